using System.Text;
using System.Text.Json;
using Microsoft.Extensions.AI;

namespace DeepSeek.Server.Protocol;

/// <summary>A <see cref="ChatResponse"/> as OpenAI's non-streaming <c>chat.completion</c> object.</summary>
internal static class ChatCompletionWriter
{
    public static byte[] ToJson(ChatResponse response, string id, long created, string model)
    {
        var text = new StringBuilder();
        var reasoning = new StringBuilder();
        var calls = new List<FunctionCallContent>();
        var usage = response.Usage;
        foreach (var message in response.Messages)
        {
            foreach (var content in message.Contents)
            {
                switch (content)
                {
                    case TextReasoningContent r: reasoning.Append(r.Text); break;
                    case TextContent t: text.Append(t.Text); break;
                    case FunctionCallContent c: calls.Add(c); break;
                    case UsageContent u when usage is null: usage = u.Details; break;
                }
            }
        }

        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            ResponseJson.WriteHeader(json, id, "chat.completion", created, model);
            json.WriteStartArray("choices");
            json.WriteStartObject();
            json.WriteNumber("index", 0);
            json.WriteStartObject("message");
            json.WriteString("role", "assistant");
            // OpenAI sends content null (not "") when the answer is only tool calls.
            if (text.Length == 0 && calls.Count > 0) json.WriteNull("content");
            else json.WriteString("content", text.ToString());
            if (reasoning.Length > 0) json.WriteString("reasoning_content", reasoning.ToString());
            if (calls.Count > 0)
            {
                json.WriteStartArray("tool_calls");
                foreach (var call in calls) ResponseJson.WriteToolCall(json, call, index: null);
                json.WriteEndArray();
            }
            json.WriteEndObject();
            json.WriteNull("logprobs");
            json.WriteString("finish_reason", ResponseJson.FinishReason(response.FinishReason, calls.Count > 0));
            json.WriteEndObject();
            json.WriteEndArray();
            if (usage is not null) ResponseJson.WriteUsage(json, usage);
            json.WriteEndObject();
        }
        return buffer.ToArray();
    }
}
