using DeepSeek.Runtime.Generation;
using DeepSeek.Runtime.Model;

namespace DeepSeek.Runtime.Tests.Generation;

/// <summary>
/// Continuous batching: whatever joins or leaves around it, a request gets exactly the tokens it gets alone through
/// <see cref="Generator.Complete"/> (the kernels are batch-invariant, and each sequence samples with its own state).
/// </summary>
public sealed class BatchSchedulerTests(SpeculationModels fixture) : IClassFixture<SpeculationModels>
{
    public static TheoryData<string, SpeculativeDecoding, bool> Cases => new()
    {
        { "tiny-v3", SpeculativeDecoding.None, false },
        { "tiny-v3", SpeculativeDecoding.None, true },
        { "agreeing", SpeculativeDecoding.Mtp, false },
        { "agreeing", SpeculativeDecoding.Mtp, true },
        { "half-agreeing", SpeculativeDecoding.Auto, true },
    };

    private static Generator Create(Transformer m, SpeculativeDecoding mode, Func<ITokenTextDecoder>? text = null) => new(m, text, eosTokenIds: [], speculative: mode);

    /// <summary>Prompts of 1…30 tokens, limits of 1…20 tokens, greedy or seeded sampling; every third stops on a token it would produce.</summary>
    private static List<GenerationRequest> Requests(Generator alone, Transformer m, int count, bool sample, int seed)
    {
        var rng = new Random(seed);
        var list = new List<GenerationRequest>();
        for (var i = 0; i < count; i++)
        {
            var prompt = Enumerable.Range(0, 1 + rng.Next(30)).Select(_ => rng.Next(m.VocabSize)).ToArray();
            var options = sample
                ? new SamplingOptions { Temperature = 1.2, TopP = 0.95, Seed = 100 + i, MaxTokens = 1 + rng.Next(20) }
                : SamplingOptions.Greedy with { MaxTokens = 1 + rng.Next(20) };
            if (i % 3 == 2)
            {
                // Leaves early on a stop token: one its unstopped run samples a few tokens in.
                var tokens = alone.Complete(prompt, options).Tokens;
                options = options with { StopTokenIds = [tokens[Math.Min(3, tokens.Count - 1)]] };
            }
            list.Add(new GenerationRequest(prompt, options));
        }
        return list;
    }

    private static async Task<List<GeneratedToken>> Collect(IAsyncEnumerable<GeneratedToken> tokens, Action<int>? seen = null)
    {
        var list = new List<GeneratedToken>();
        await foreach (var t in tokens)
        {
            list.Add(t);
            seen?.Invoke(list.Count);
        }
        return list;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Requests_joining_mid_flight_and_queueing_for_slots_each_get_their_tokens_alone(string name, SpeculativeDecoding mode, bool sample)
    {
        var m = fixture.Models[name];
        var generator = Create(m, mode);
        var requests = Requests(generator, m, 10, sample, seed: name.Length + (int)mode);
        var expected = requests.Select(r => generator.Complete(r.Prompt, r.Options)).ToList();

        using var scheduler = new BatchScheduler(generator, slots: 3);
        // Request i starts once request i − 1 has its second token (or has finished): joins in the middle of others'
        // decoding; ten requests over three slots also queue.
        var triggers = requests.Select(_ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).ToArray();
        var runs = requests.Select((r, i) => Task.Run(async () =>
        {
            if (i > 0) await triggers[i - 1].Task;
            try
            {
                return await Collect(scheduler.GenerateAsync(r), n => { if (n == 2) triggers[i].TrySetResult(); });
            }
            finally
            {
                triggers[i].TrySetResult();
            }
        })).ToArray();
        var results = await Task.WhenAll(runs);

        for (var i = 0; i < requests.Count; i++)
        {
            Assert.Equal(expected[i].Tokens, results[i].Select(t => t.TokenId));
            Assert.Equal(expected[i].Finish, results[i][^1].Finish);
            Assert.All(results[i][..^1], t => Assert.Null(t.Finish));
            Assert.Equal(expected[i].Speculation, results[i][^1].Speculation);
        }
        var stats = scheduler.Stats;
        Assert.Equal(results.Sum(r => r.Count), stats.GeneratedTokens);
        Assert.Equal((0, 0, 0L), (stats.ActiveSequences, stats.QueuedRequests, stats.TokensInUse));
    }

    [Theory]
    [InlineData(SpeculativeDecoding.None)]
    [InlineData(SpeculativeDecoding.Mtp)]
    public async Task Requests_that_join_together_share_every_step(SpeculativeDecoding mode)
    {
        var m = fixture.Models["tiny-v3"];
        var generator = Create(m, mode);
        using var scheduler = new BatchScheduler(generator, slots: 4);
        scheduler.Paused = true;
        var prompts = new[] { new[] { 3, 4, 5 }, [7], [9, 10, 11, 12, 13], [20, 21] };
        var runs = prompts.Select(p => Collect(scheduler.GenerateAsync(new GenerationRequest(p, SamplingOptions.Greedy with { MaxTokens = 10 })))).ToArray();
        await WaitFor(() => scheduler.Stats.ActiveSequences == 4);
        scheduler.Paused = false;
        var results = await Task.WhenAll(runs);

        Assert.All(results, r => Assert.Equal(10, r.Count));
        var stats = scheduler.Stats;
        Assert.Equal(40, stats.GeneratedTokens);
        // Four sequences per step: a prefill step and nine decode steps (fewer when MTP drafts are accepted).
        if (mode == SpeculativeDecoding.None) Assert.Equal(10, stats.Steps);
        else Assert.InRange(stats.Steps, 5, 10);
        Assert.True(stats.TokensPerStep >= 4);
    }

    [Fact]
    public async Task Memory_accounting_reports_bytes_per_token_capacity_use_and_the_queue()
    {
        var m = fixture.Models["tiny-v3"];   // 3 layers + 1 MTP layer, absorbed MLA: kv_lora_rank 32 + qk_rope 8 fp32 values each
        var generator = Create(m, SpeculativeDecoding.None);
        using var scheduler = new BatchScheduler(generator, slots: 2);
        var stats = scheduler.Stats;
        Assert.Equal(4 * (32 + 8) * sizeof(float), stats.BytesPerToken);
        Assert.Equal(64, stats.SlotTokens);
        Assert.Equal(2 * 64 * stats.BytesPerToken, stats.CapacityBytes);
        Assert.Equal((0, 0, 0L, 0L), (stats.ActiveSequences, stats.QueuedRequests, stats.BytesInUse, stats.Steps));

        scheduler.Paused = true;
        var prompt = Enumerable.Range(5, 12).ToArray();
        var runs = Enumerable.Range(0, 5).Select(_ => Collect(scheduler.GenerateAsync(new GenerationRequest(prompt, SamplingOptions.Greedy with { MaxTokens = 6 })))).ToArray();
        await WaitFor(() => scheduler.Stats is { ActiveSequences: 2, QueuedRequests: 3 });
        Assert.Equal(0, scheduler.Stats.TokensInUse);

        scheduler.Paused = false;
        await Task.WhenAll(runs);
        stats = scheduler.Stats;
        Assert.Equal((0, 0, 0L), (stats.ActiveSequences, stats.QueuedRequests, stats.BytesInUse));
        // Two slots at a time, each at its last step holding its prompt and five generated tokens (the sixth is not fed).
        Assert.Equal(2 * (12 + 5), stats.PeakTokensInUse);
        Assert.Equal(2 * (12 + 5) * stats.BytesPerToken, stats.PeakBytesInUse);
        Assert.Equal(6 * 5, stats.GeneratedTokens);
    }

    [Fact]
    public void A_request_that_cannot_fit_a_slot_fails_before_any_work()
    {
        var m = fixture.Models["tiny-v3"];
        using var scheduler = new BatchScheduler(Create(m, SpeculativeDecoding.None), slots: 2);
        var e = Assert.Throws<ContextLengthException>(() => scheduler.GenerateAsync(new GenerationRequest(new int[60], SamplingOptions.Greedy with { MaxTokens = 10 })));
        Assert.Equal((70, 64), (e.Requested, e.Limit));
        Assert.Throws<ArgumentException>(() => scheduler.GenerateAsync(new GenerationRequest([], SamplingOptions.Greedy)));
        Assert.Equal(0, scheduler.Stats.Steps);
    }

    [Theory]
    [InlineData(SpeculativeDecoding.None)]
    [InlineData(SpeculativeDecoding.Mtp)]
    public async Task A_cancelled_request_leaves_at_the_next_step_without_disturbing_the_others(SpeculativeDecoding mode)
    {
        var m = fixture.Models["agreeing"];
        var generator = Create(m, mode);
        var options = SamplingOptions.Greedy with { MaxTokens = 30 };
        int[][] prompts = [[3, 4, 5], [8, 9], [11, 12, 13, 14]];
        var expected = prompts.Select(p => generator.Complete(p, options).Tokens).ToArray();

        using var scheduler = new BatchScheduler(generator, slots: 3);
        scheduler.Paused = true;
        using var cts = new CancellationTokenSource();
        var others = new[] { 0, 2 }.Select(i => Collect(scheduler.GenerateAsync(new GenerationRequest(prompts[i], options)))).ToArray();
        var seen = new List<int>();
        var cancelled = Task.Run(async () =>
        {
            await foreach (var t in scheduler.GenerateAsync(new GenerationRequest(prompts[1], options), cts.Token))
            {
                seen.Add(t.TokenId);
                if (seen.Count == 3) await cts.CancelAsync();
            }
        });
        await WaitFor(() => scheduler.Stats.ActiveSequences == 3);
        scheduler.Paused = false;

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled);
        Assert.Equal(expected[1].Take(3), seen);
        var results = await Task.WhenAll(others);
        Assert.Equal(expected[0], results[0].Select(t => t.TokenId));
        Assert.Equal(expected[2], results[1].Select(t => t.TokenId));
        await WaitFor(() => scheduler.Stats.ActiveSequences == 0);
        // The freed slot takes a new request.
        Assert.Equal(expected[1], (await Collect(scheduler.GenerateAsync(new GenerationRequest(prompts[1], options)))).Select(t => t.TokenId));
    }

    [Fact]
    public async Task A_reader_that_stops_early_frees_its_slot()
    {
        var m = fixture.Models["tiny-v3"];
        using var scheduler = new BatchScheduler(Create(m, SpeculativeDecoding.None), slots: 1);
        await foreach (var _ in scheduler.GenerateAsync(new GenerationRequest([1, 2, 3], SamplingOptions.Greedy with { MaxTokens = 50 }))) break;
        await WaitFor(() => scheduler.Stats.ActiveSequences == 0);
        Assert.Single(await Collect(scheduler.GenerateAsync(new GenerationRequest([1, 2, 3], SamplingOptions.Greedy with { MaxTokens = 1 }))));
    }

    [Fact]
    public async Task A_failing_step_faults_every_request_in_it_and_the_scheduler_goes_on()
    {
        var m = fixture.Models["tiny-v3"];
        var failAt = -1;
        var decoded = 0;
        // The text decoder runs inside a step (sampling emits text): the fifth token decoded while armed fails that step.
        var generator = new Generator(m, () => new FailingDecoder(() => Interlocked.Increment(ref decoded) == Volatile.Read(ref failAt)), eosTokenIds: []);
        var options = SamplingOptions.Greedy with { MaxTokens = 20 };
        int[][] prompts = [[3, 4, 5], [8, 9], [11, 12, 13, 14]];
        var expected = generator.Complete(prompts[0], options).Tokens;

        using var scheduler = new BatchScheduler(generator, slots: 3);
        scheduler.Paused = true;
        var runs = prompts.Select(p => Collect(scheduler.GenerateAsync(new GenerationRequest(p, options)))).ToArray();
        await WaitFor(() => scheduler.Stats.ActiveSequences == 3);
        Volatile.Write(ref decoded, 0);
        Volatile.Write(ref failAt, 5);
        scheduler.Paused = false;
        foreach (var run in runs)
            Assert.Equal("decoder failed", (await Assert.ThrowsAsync<InvalidDataException>(() => run)).Message);

        Assert.Equal(0, scheduler.Stats.ActiveSequences);
        Assert.Equal(0, scheduler.Stats.TokensInUse);
        Assert.Equal(expected, (await Collect(scheduler.GenerateAsync(new GenerationRequest(prompts[0], options)))).Select(t => t.TokenId));
    }

    [Fact]
    public async Task Dispose_fails_running_and_queued_requests_and_refuses_new_ones()
    {
        var m = fixture.Models["tiny-v3"];
        var scheduler = new BatchScheduler(Create(m, SpeculativeDecoding.None), slots: 1);
        scheduler.Paused = true;
        var runs = Enumerable.Range(0, 2).Select(_ => Collect(scheduler.GenerateAsync(new GenerationRequest([1, 2], SamplingOptions.Greedy with { MaxTokens = 5 })))).ToArray();
        await WaitFor(() => scheduler.Stats is { ActiveSequences: 1, QueuedRequests: 1 });
        scheduler.Dispose();
        foreach (var run in runs) await Assert.ThrowsAsync<ObjectDisposedException>(() => run);
        Assert.Throws<ObjectDisposedException>(() => scheduler.GenerateAsync(new GenerationRequest([1], SamplingOptions.Greedy)));
        scheduler.Dispose();
    }

    private static async Task WaitFor(Func<bool> condition)
    {
        for (var i = 0; !condition(); i++)
        {
            if (i > 2000) throw new TimeoutException("the scheduler did not reach the expected state in 20 s");
            await Task.Delay(10);
        }
    }

    private sealed class FailingDecoder(Func<bool> fail) : ITokenTextDecoder
    {
        public string Append(int tokenId) => fail() ? throw new InvalidDataException("decoder failed") : "";

        public string Flush() => "";
    }
}
