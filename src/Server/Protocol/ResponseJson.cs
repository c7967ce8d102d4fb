using System.Text.Json;
using Microsoft.Extensions.AI;

namespace DeepSeek.Server.Protocol;

/// <summary>Pieces shared by the <c>chat.completion</c> and <c>chat.completion.chunk</c> writers.</summary>
internal static class ResponseJson
{
    /// <summary>M.E.AI's serializer settings (they know <see cref="JsonElement"/> and primitives) without its indentation.</summary>
    private static readonly JsonSerializerOptions CompactJson = new(AIJsonUtilities.DefaultOptions) { WriteIndented = false };

    /// <summary>OpenAI's <c>finish_reason</c>; with none reported, <c>tool_calls</c> if the answer called a tool, else <c>stop</c>.</summary>
    public static string FinishReason(ChatFinishReason? reason, bool calledTools)
    {
        if (reason is not { } r) return calledTools ? "tool_calls" : "stop";
        if (r == ChatFinishReason.Stop) return "stop";
        if (r == ChatFinishReason.Length) return "length";
        if (r == ChatFinishReason.ToolCalls) return "tool_calls";
        if (r == ChatFinishReason.ContentFilter) return "content_filter";
        return r.Value;
    }

    /// <summary><c>{"prompt_tokens","completion_tokens","total_tokens"}</c> plus the cached/reasoning details when known.</summary>
    public static void WriteUsage(Utf8JsonWriter json, UsageDetails usage)
    {
        var prompt = usage.InputTokenCount ?? 0;
        var completion = usage.OutputTokenCount ?? 0;
        json.WriteStartObject("usage");
        json.WriteNumber("prompt_tokens", prompt);
        json.WriteNumber("completion_tokens", completion);
        json.WriteNumber("total_tokens", usage.TotalTokenCount ?? prompt + completion);
        if (usage.CachedInputTokenCount is { } cached)
        {
            json.WriteStartObject("prompt_tokens_details");
            json.WriteNumber("cached_tokens", cached);
            json.WriteEndObject();
        }
        if (usage.ReasoningTokenCount is { } reasoning)
        {
            json.WriteStartObject("completion_tokens_details");
            json.WriteNumber("reasoning_tokens", reasoning);
            json.WriteEndObject();
        }
        json.WriteEndObject();
    }

    /// <summary>One <c>tool_calls</c> entry; <paramref name="index"/> is written for stream deltas only.</summary>
    public static void WriteToolCall(Utf8JsonWriter json, FunctionCallContent call, int? index)
    {
        json.WriteStartObject();
        if (index is { } i) json.WriteNumber("index", i);
        json.WriteString("id", string.IsNullOrEmpty(call.CallId) ? "call_" + Guid.NewGuid().ToString("N") : call.CallId);
        json.WriteString("type", "function");
        json.WriteStartObject("function");
        json.WriteString("name", call.Name);
        json.WriteString("arguments", call.Arguments is null ? "{}" : JsonSerializer.Serialize(call.Arguments, CompactJson));
        json.WriteEndObject();
        json.WriteEndObject();
    }

    public static void WriteHeader(Utf8JsonWriter json, string id, string type, long created, string model)
    {
        json.WriteString("id", id);
        json.WriteString("object", type);
        json.WriteNumber("created", created);
        json.WriteString("model", model);
        json.WriteNull("system_fingerprint");
    }

    public static string NewCompletionId() => "chatcmpl-" + Guid.NewGuid().ToString("N");
}
