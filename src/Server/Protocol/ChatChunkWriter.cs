using System.Text;
using System.Text.Json;
using Microsoft.Extensions.AI;

namespace DeepSeek.Server.Protocol;

/// <summary>
/// <see cref="ChatResponseUpdate"/>s as OpenAI's <c>chat.completion.chunk</c> objects: a first delta with the role,
/// one delta per update with <c>content</c>, <c>reasoning_content</c> and/or <c>tool_calls</c> (each call whole,
/// numbered by <c>index</c> in order of appearance), a last chunk with <c>finish_reason</c> and, when asked, a usage
/// chunk with <c>choices: []</c>. One instance per response; not thread-safe.
/// </summary>
internal sealed class ChatChunkWriter(string id, long created, string model)
{
    private int _toolCalls;
    private ChatFinishReason? _finishReason;

    /// <summary>The usage reported so far (a <see cref="UsageContent"/> in any update), summed.</summary>
    public UsageDetails? Usage { get; private set; }

    public byte[] RoleChunk() => Chunk(json =>
    {
        json.WriteString("role", "assistant");
        json.WriteString("content", "");
    }, finishReason: null);

    /// <summary>The delta chunk for <paramref name="update"/>, or <see langword="null"/> when it carries nothing to show.</summary>
    public byte[]? Delta(ChatResponseUpdate update)
    {
        if (update.FinishReason is { } finish) _finishReason = finish;
        StringBuilder? text = null, reasoning = null;
        List<FunctionCallContent>? calls = null;
        foreach (var content in update.Contents)
        {
            switch (content)
            {
                case TextReasoningContent r when !string.IsNullOrEmpty(r.Text): (reasoning ??= new()).Append(r.Text); break;
                case TextContent t when !string.IsNullOrEmpty(t.Text): (text ??= new()).Append(t.Text); break;
                case FunctionCallContent c: (calls ??= []).Add(c); break;
                case UsageContent u: (Usage ??= new UsageDetails()).Add(u.Details); break;
            }
        }
        if (text is null && reasoning is null && calls is null) return null;
        return Chunk(json =>
        {
            if (reasoning is not null) json.WriteString("reasoning_content", reasoning.ToString());
            if (text is not null) json.WriteString("content", text.ToString());
            if (calls is not null)
            {
                json.WriteStartArray("tool_calls");
                foreach (var call in calls) ResponseJson.WriteToolCall(json, call, _toolCalls++);
                json.WriteEndArray();
            }
        }, finishReason: null);
    }

    public byte[] FinishChunk() =>
        Chunk(_ => { }, ResponseJson.FinishReason(_finishReason, _toolCalls > 0));

    public byte[] UsageChunk() => Write(json =>
    {
        json.WriteStartObject();
        ResponseJson.WriteHeader(json, id, "chat.completion.chunk", created, model);
        json.WriteStartArray("choices");
        json.WriteEndArray();
        ResponseJson.WriteUsage(json, Usage ?? new UsageDetails { InputTokenCount = 0, OutputTokenCount = 0 });
        json.WriteEndObject();
    });

    private byte[] Chunk(Action<Utf8JsonWriter> delta, string? finishReason) => Write(json =>
    {
        json.WriteStartObject();
        ResponseJson.WriteHeader(json, id, "chat.completion.chunk", created, model);
        json.WriteStartArray("choices");
        json.WriteStartObject();
        json.WriteNumber("index", 0);
        json.WriteStartObject("delta");
        delta(json);
        json.WriteEndObject();
        json.WriteNull("logprobs");
        if (finishReason is null) json.WriteNull("finish_reason");
        else json.WriteString("finish_reason", finishReason);
        json.WriteEndObject();
        json.WriteEndArray();
        json.WriteEndObject();
    });

    private static byte[] Write(Action<Utf8JsonWriter> body)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer)) body(json);
        return buffer.ToArray();
    }
}
