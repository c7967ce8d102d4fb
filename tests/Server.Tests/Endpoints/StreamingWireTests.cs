using System.Net;
using System.Text.Json;
using Microsoft.Extensions.AI;

namespace DeepSeek.Server.Tests.Endpoints;

/// <summary>The raw SSE stream: what the official client parses away (reasoning_content, chunk order, [DONE]).</summary>
public class StreamingWireTests
{
    private const string StreamRequest =
        """{"model":"deepseek-chat","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"why?"}]}""";

    private static ScriptedChatClient Reasoner() => ScriptedChatClient.Replying(
        [new TextReasoningContent("Let me ")],
        [new TextReasoningContent("think.")],
        [new TextContent("Because.")],
        [new UsageContent(new UsageDetails { InputTokenCount = 4, OutputTokenCount = 6, ReasoningTokenCount = 4 })]);

    [Fact]
    public async Task Stream_is_role_then_reasoning_and_content_deltas_then_finish_then_usage_then_done()
    {
        await using var app = await TestApp.StartAsync(Reasoner());
        using var response = await app.CreateHttpClient().SendAsync(Http.Post(StreamRequest), HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);

        var events = await Http.ReadEventsAsync(response);
        Assert.Equal("[DONE]", events[^1]);
        var chunks = events[..^1].Select(e => JsonDocument.Parse(e).RootElement).ToList();
        Assert.All(chunks, c => Assert.Equal("chat.completion.chunk", c.GetProperty("object").GetString()));
        Assert.Single(chunks.Select(c => c.GetProperty("id").GetString()).Distinct());
        Assert.StartsWith("chatcmpl-", chunks[0].GetProperty("id").GetString(), StringComparison.Ordinal);

        JsonElement Delta(JsonElement chunk) => chunk.GetProperty("choices")[0].GetProperty("delta");
        string? Field(JsonElement chunk, string name) => Delta(chunk).TryGetProperty(name, out var v) ? v.GetString() : null;

        Assert.Equal("assistant", Field(chunks[0], "role"));
        Assert.Equal("Let me think.", string.Concat(chunks.Select(c => c.GetProperty("choices").GetArrayLength() > 0 ? Field(c, "reasoning_content") : null)));
        Assert.Equal("Because.", string.Concat(chunks.Select(c => c.GetProperty("choices").GetArrayLength() > 0 ? Field(c, "content") : null)));

        var finish = chunks[^2].GetProperty("choices")[0];
        Assert.Equal("stop", finish.GetProperty("finish_reason").GetString());
        Assert.Empty(finish.GetProperty("delta").EnumerateObject());
        Assert.All(chunks[..^2], c => Assert.Equal(JsonValueKind.Null, c.GetProperty("choices")[0].GetProperty("finish_reason").ValueKind));

        var usage = chunks[^1];
        Assert.Equal(0, usage.GetProperty("choices").GetArrayLength());
        Assert.Equal(4, usage.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());
        Assert.Equal(6, usage.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        Assert.Equal(10, usage.GetProperty("usage").GetProperty("total_tokens").GetInt32());
        Assert.Equal(4, usage.GetProperty("usage").GetProperty("completion_tokens_details").GetProperty("reasoning_tokens").GetInt32());
    }

    [Fact]
    public async Task Without_include_usage_there_is_no_usage_chunk()
    {
        await using var app = await TestApp.StartAsync(Reasoner());
        using var response = await app.CreateHttpClient().SendAsync(
            Http.Post("""{"model":"deepseek-chat","stream":true,"messages":[{"role":"user","content":"why?"}]}"""), HttpCompletionOption.ResponseHeadersRead);

        var events = await Http.ReadEventsAsync(response);
        Assert.Equal("[DONE]", events[^1]);
        Assert.All(events[..^1], e => Assert.Equal(1, JsonDocument.Parse(e).RootElement.GetProperty("choices").GetArrayLength()));
        Assert.DoesNotContain(events, e => e.Contains("\"usage\"", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Non_streaming_message_carries_reasoning_content_beside_content()
    {
        await using var app = await TestApp.StartAsync(Reasoner());
        var (status, body) = await Http.SendAsync(app.CreateHttpClient(), Http.Post(Http.Hello));

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("chat.completion", body.GetProperty("object").GetString());
        var choice = body.GetProperty("choices")[0];
        Assert.Equal("assistant", choice.GetProperty("message").GetProperty("role").GetString());
        Assert.Equal("Because.", choice.GetProperty("message").GetProperty("content").GetString());
        Assert.Equal("Let me think.", choice.GetProperty("message").GetProperty("reasoning_content").GetString());
        Assert.False(choice.GetProperty("message").TryGetProperty("tool_calls", out _));
        Assert.Equal(10, body.GetProperty("usage").GetProperty("total_tokens").GetInt32());
    }

    [Fact]
    public async Task Assistant_reasoning_content_sent_back_reaches_the_model_as_TextReasoningContent()
    {
        var model = ScriptedChatClient.Replying([new TextContent("ok")]);
        await using var app = await TestApp.StartAsync(model);
        var (status, _) = await Http.SendAsync(app.CreateHttpClient(), Http.Post("""
            {"model":"deepseek-chat","messages":[{"role":"user","content":"a"},
             {"role":"assistant","reasoning_content":"hmm","content":"b"},{"role":"user","content":"c"}]}
            """));

        Assert.Equal(HttpStatusCode.OK, status);
        var assistant = Assert.Single(model.Calls).Messages[1];
        Assert.Equal("hmm", Assert.IsType<TextReasoningContent>(assistant.Contents[0]).Text);
        Assert.Equal("b", assistant.Text);
    }

    [Fact]
    public async Task A_model_failure_midway_ends_the_stream_with_an_error_event_and_no_done()
    {
        static async IAsyncEnumerable<ChatResponseUpdate> Breaks()
        {
            await Task.Yield();
            yield return new ChatResponseUpdate(ChatRole.Assistant, "partial");
            throw new InvalidOperationException("GPU fell over");
        }
        await using var app = await TestApp.StartAsync(new ScriptedChatClient((_, _, _) => Breaks()));
        using var response = await app.CreateHttpClient().SendAsync(Http.Post(StreamRequest), HttpCompletionOption.ResponseHeadersRead);

        var events = await Http.ReadEventsAsync(response);
        Assert.DoesNotContain("[DONE]", events);
        var error = Http.AssertError(JsonDocument.Parse(events[^1]).RootElement, "server_error", null);
        Assert.DoesNotContain("GPU", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Contains(events, e => e.Contains("partial", StringComparison.Ordinal));
    }
}
