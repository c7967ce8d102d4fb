using System.Net;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;
using OpenAI.Chat;
using ChatMessage = Microsoft.Extensions.AI.ChatMessage;

namespace DeepSeek.Server.Tests.Endpoints;

/// <summary>Independent concurrent requests, and client disconnects reaching the model as cancellation.</summary>
public class ConcurrencyTests
{
    /// <summary>Echoes the last user message's words reversed and upper-cased, one word per update, with small delays.</summary>
    private static async IAsyncEnumerable<ChatResponseUpdate> Echo(IList<ChatMessage> messages, [EnumeratorCancellation] CancellationToken ct)
    {
        var words = messages[^1].Text.Split(' ');
        for (var i = 0; i < words.Length; i++)
        {
            await Task.Delay(1 + (words[i].Length + i) % 4, ct);
            yield return new ChatResponseUpdate(ChatRole.Assistant, (i == 0 ? "" : " ") + new string(words[i].Reverse().ToArray()).ToUpperInvariant());
        }
    }

    private static string Expected(string prompt) =>
        string.Join(' ', prompt.Split(' ').Select(w => new string(w.Reverse().ToArray()).ToUpperInvariant()));

    [Fact]
    public async Task Eight_concurrent_streams_each_get_exactly_their_own_output()
    {
        await using var app = await TestApp.StartAsync(new ScriptedChatClient((m, _, ct) => Echo(m, ct)));
        var prompts = Enumerable.Range(0, 8)
            .Select(c => string.Join(' ', Enumerable.Range(0, 12 + c).Select(w => $"client{c}word{w}")))
            .ToArray();

        var outputs = await Task.WhenAll(prompts.Select(async prompt =>
        {
            var client = app.CreateOpenAIClient();
            var text = "";
            await foreach (var update in client.CompleteChatStreamingAsync([new UserChatMessage(prompt)]))
                foreach (var part in update.ContentUpdate) text += part.Text;
            return text;
        }));

        for (var c = 0; c < prompts.Length; c++) Assert.Equal(Expected(prompts[c]), outputs[c]);
    }

    /// <summary>A model that yields one token, then waits for cancellation and reports it.</summary>
    private sealed class Hanging
    {
        public TaskCompletionSource Started { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public TaskCompletionSource Cancelled { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public async IAsyncEnumerable<ChatResponseUpdate> Run([EnumeratorCancellation] CancellationToken ct)
        {
            yield return new ChatResponseUpdate(ChatRole.Assistant, "first");
            Started.TrySetResult();
            try
            {
                await Task.Delay(Timeout.Infinite, ct);
            }
            finally
            {
                if (ct.IsCancellationRequested) Cancelled.TrySetResult();
            }
            yield return new ChatResponseUpdate(ChatRole.Assistant, "never");
        }
    }

    [Fact]
    public async Task Dropping_a_stream_cancels_generation_and_frees_its_slot()
    {
        var hanging = new Hanging();
        var calls = 0;
        var model = new ScriptedChatClient((m, _, ct) => Interlocked.Increment(ref calls) == 1
            ? hanging.Run(ct)
            : ScriptedChatClient.Yield([new ChatResponseUpdate(ChatRole.Assistant, "free")], ct));
        await using var app = await TestApp.StartAsync(model, o => o.MaxConcurrentRequests = 1);
        var http = app.CreateHttpClient();
        using var drop = new CancellationTokenSource();

        var response = await http.SendAsync(Http.Post("""{"model":"deepseek-chat","stream":true,"messages":[{"role":"user","content":"go"}]}"""),
            HttpCompletionOption.ResponseHeadersRead, drop.Token);
        var reader = new StreamReader(await response.Content.ReadAsStreamAsync(drop.Token));
        Assert.StartsWith("data: ", await reader.ReadLineAsync(drop.Token), StringComparison.Ordinal);
        await hanging.Started.Task.WaitAsync(TimeSpan.FromSeconds(30));

        // While it generates, the one slot is taken.
        var (busy, json) = await Http.SendAsync(http, Http.Post(Http.Hello));
        Assert.Equal(HttpStatusCode.TooManyRequests, busy);
        Http.AssertError(json, "rate_limit_error", "rate_limit_exceeded");

        drop.Cancel();
        response.Dispose();
        await hanging.Cancelled.Task.WaitAsync(TimeSpan.FromSeconds(30));

        // The slot is given back when the handler unwinds, just after the model saw the cancellation.
        HttpStatusCode status;
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        do
        {
            (status, json) = await Http.SendAsync(http, Http.Post(Http.Hello));
            if (status != HttpStatusCode.TooManyRequests) break;
            await Task.Delay(10);
        } while (DateTime.UtcNow < deadline);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("free", json.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString());
    }

    [Fact]
    public async Task Dropping_a_non_streaming_request_cancels_generation()
    {
        var hanging = new Hanging();
        await using var app = await TestApp.StartAsync(new ScriptedChatClient((_, _, ct) => hanging.Run(ct)));
        using var drop = new CancellationTokenSource();

        var pending = app.CreateHttpClient().SendAsync(Http.Post(Http.Hello), drop.Token);
        await hanging.Started.Task.WaitAsync(TimeSpan.FromSeconds(30));
        drop.Cancel();

        await hanging.Cancelled.Task.WaitAsync(TimeSpan.FromSeconds(30));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => pending);
    }
}
