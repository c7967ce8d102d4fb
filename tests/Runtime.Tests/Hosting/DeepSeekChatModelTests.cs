using System.Diagnostics.Metrics;
using DeepSeek.Runtime.Generation;
using DeepSeek.Runtime.Hosting;
using Microsoft.Extensions.AI;
using Ours = DeepSeek.Runtime.Tokenization;

namespace DeepSeek.Runtime.Tests.Hosting;

/// <summary>Plumbing of the real model on a random-weight checkpoint: greedy determinism, usage, cancellation, concurrency.</summary>
public sealed class DeepSeekChatModelTests(TinyChatModelFixture fixture) : IClassFixture<TinyChatModelFixture>
{
    private DeepSeekChatModel Load(int concurrency = 4) =>
        DeepSeekChatModel.Load(fixture.ModelPath, new DeepSeekModelOptions { Temperature = 0, MaxOutputTokens = 6, MaxConcurrentSequences = concurrency, ContextLength = 256 });

    private static ChatOptions Greedy(int n) => new() { Temperature = 0, MaxOutputTokens = n };

    [Fact]
    public void Load_reports_what_was_loaded()
    {
        using var model = Load();
        Assert.Equal("tiny-chat", model.Info.Id);
        Assert.Equal(256, model.Info.ContextLength);
        Assert.Equal(Ours.ChatFormats.DeepSeekV3, model.Info.ChatFormat.Family);
        Assert.Equal("cpu", model.Info.Backend);
        Assert.Equal(129280, model.Info.Config.VocabSize);
    }

    [Fact]
    public void Cuda_backend_is_a_typed_not_supported_error()
    {
        var e = Assert.Throws<BackendNotSupportedException>(() => DeepSeekChatModel.Load(fixture.ModelPath, new DeepSeekModelOptions { Backend = "cuda" }));
        Assert.Equal("cuda", e.Backend);
        Assert.Contains("cuda", e.Message, StringComparison.Ordinal);
        Assert.IsAssignableFrom<NotSupportedException>(e);
    }

    [Fact]
    public async Task Streaming_equals_non_streaming_under_greedy_with_usage()
    {
        using var model = Load();
        using var client = new DeepSeekChatClient(model);
        ChatMessage[] messages = [new(ChatRole.System, "Be brief."), new(ChatRole.User, "Hello there")];

        var response = await client.GetResponseAsync(messages, Greedy(5));
        var updates = new List<ChatResponseUpdate>();
        await foreach (var u in client.GetStreamingResponseAsync(messages, Greedy(5))) updates.Add(u);

        var streamedText = string.Concat(updates.SelectMany(u => u.Contents).OfType<TextContent>().Select(t => t.Text));
        Assert.Equal(response.Text, streamedText);
        var usage = Assert.IsType<UsageContent>(updates[^1].Contents.Single()).Details;
        Assert.NotNull(response.Usage);
        Assert.Equal(response.Usage!.InputTokenCount, usage.InputTokenCount);
        Assert.Equal(response.Usage.OutputTokenCount, usage.OutputTokenCount);

        var prompt = model.RenderPrompt(new ChatModelRequest([Ours.ChatMessage.System("Be brief."), Ours.ChatMessage.User("Hello there")]));
        Assert.Equal(model.Info.Tokenizer.Encode(prompt).Count, usage.InputTokenCount);
        Assert.InRange(usage.OutputTokenCount!.Value, 1, 5);
        Assert.Equal(usage.InputTokenCount + usage.OutputTokenCount, usage.TotalTokenCount);
        Assert.Equal(usage.OutputTokenCount == 5 ? ChatFinishReason.Length : ChatFinishReason.Stop, response.FinishReason);
        Assert.Equal("tiny-chat", response.ModelId);
    }

    [Fact]
    public async Task Token_generation_streams_the_requested_count()
    {
        using var model = Load();
        var tokens = new List<GeneratedTextToken>();
        await foreach (var t in model.GenerateAsync([0, 100, 200, 300], SamplingOptions.Greedy with { MaxTokens = 4, StopTokenIds = [] })) tokens.Add(t);
        Assert.True(tokens.Count is >= 1 and <= 4);
        Assert.NotNull(tokens[^1].Finish);
        Assert.All(tokens[..^1], t => Assert.Null(t.Finish));
    }

    [Fact]
    public async Task Cancellation_stops_the_answer_and_frees_the_slot()
    {
        using var model = Load(concurrency: 1);
        using var cts = new CancellationTokenSource();
        var seen = 0;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var t in model.GenerateAsync([0, 5, 6], SamplingOptions.Greedy with { MaxTokens = 200, StopTokenIds = [] }, cts.Token))
            {
                if (++seen == 2) cts.Cancel();
            }
        });
        Assert.Equal(2, seen);
        Assert.Equal(0, model.ActiveRequests);
        // The only slot was released: another request runs.
        await foreach (var _ in model.GenerateAsync([0, 5], SamplingOptions.Greedy with { MaxTokens = 1 })) { }
    }

    [Fact]
    public async Task Concurrent_chat_requests_share_decode_steps()
    {
        using var model = DeepSeekChatModel.Load(fixture.ModelPath,
            new DeepSeekModelOptions { Temperature = 0, MaxConcurrentSequences = 4, ContextLength = 256, ModelId = $"batched-{Guid.NewGuid():N}" });
        using var client = new DeepSeekChatClient(model);
        var prompts = Enumerable.Range(0, 4).Select(i => $"Count to {i + 3}, please.").ToArray();
        var alone = new List<string>();
        foreach (var p in prompts) alone.Add(Describe(await client.GetResponseAsync(p, Greedy(8))));
        var before = model.Batching;
        Assert.Equal(before.GeneratedTokens, before.Steps);   // one at a time: one token per step

        model.Scheduler.Paused = true;
        var together = prompts.Select(p => client.GetResponseAsync(p, Greedy(8))).ToArray();
        for (var i = 0; model.Batching.ActiveSequences < prompts.Length; i++)
        {
            Assert.True(i < 2000, "the requests did not all join");
            await Task.Delay(10);
        }
        model.Scheduler.Paused = false;
        Assert.Equal(alone, (await Task.WhenAll(together)).Select(Describe));

        var after = model.Batching;
        var tokens = after.GeneratedTokens - before.GeneratedTokens;
        Assert.Equal(before.GeneratedTokens, tokens);
        // All four joined at one step: the forward passes are those of the longest answer, not the sum of all answers.
        Assert.InRange(after.Steps - before.Steps, 1, 8);
        Assert.True(tokens > after.Steps - before.Steps);
        Assert.Equal(4, after.Slots);
        Assert.Equal(0, after.TokensInUse);

        // The same numbers reach OpenTelemetry (only this model's: other tests publish on the same meter name).
        var observed = new Dictionary<string, long>();
        using var listener = new MeterListener
        {
            InstrumentPublished = (i, l) =>
            {
                if (i.Meter.Name == DeepSeekDiagnostics.MeterName && i.Name.StartsWith("deepseek.", StringComparison.Ordinal)) l.EnableMeasurementEvents(i);
            },
        };
        listener.SetMeasurementEventCallback<long>((i, value, tags, _) =>
        {
            foreach (var tag in tags)
                if (tag.Key == DeepSeekDiagnostics.ModelTag && Equals(tag.Value, model.Info.Id)) lock (observed) observed[i.Name] = value;
        });
        listener.Start();
        listener.RecordObservableInstruments();
        Assert.Equal(after.Steps, observed[DeepSeekDiagnostics.BatchSteps]);
        Assert.Equal(after.CapacityBytes, observed[DeepSeekDiagnostics.KvCacheCapacityBytes]);
        Assert.Equal(0, observed[DeepSeekDiagnostics.KvCacheBytesInUse]);
    }

    [Fact]
    public async Task Concurrent_greedy_requests_equal_the_same_requests_one_at_a_time()
    {
        using var model = Load(concurrency: 3);
        using var client = new DeepSeekChatClient(model);
        var prompts = Enumerable.Range(0, 8).Select(i => $"Question number {i}: what is {i} plus {i * 7}?").ToArray();

        var sequential = new List<string>();
        foreach (var p in prompts) sequential.Add(Describe(await client.GetResponseAsync(p, Greedy(6))));
        var concurrent = await Task.WhenAll(prompts.Select(async p => Describe(await client.GetResponseAsync(p, Greedy(6)))));

        Assert.Equal(sequential, concurrent);
        Assert.True(sequential.Distinct().Count() > 1, "different prompts should give different outputs");
        Assert.Equal(0, model.QueueLength);
        Assert.Equal(0, model.ActiveRequests);
    }

    private static string Describe(ChatResponse r) => $"{r.Text}|{r.Usage?.InputTokenCount}|{r.Usage?.OutputTokenCount}|{r.FinishReason}";

    [Fact]
    public async Task A_prompt_that_does_not_fit_the_context_is_a_context_length_error()
    {
        using var model = Load();
        using var client = new DeepSeekChatClient(model);
        var e = await Assert.ThrowsAsync<ContextLengthException>(() => client.GetResponseAsync(string.Join(" ", Enumerable.Repeat("word", 300)), Greedy(4)));
        Assert.Contains("256-token context", e.Message, StringComparison.Ordinal);
    }
}
