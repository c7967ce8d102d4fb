using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Compute.Cpu;
using DeepSeek.Runtime.Generation;
using DeepSeek.Runtime.Model;

namespace DeepSeek.Runtime.Tests.Generation;

/// <summary>Models with an MTP layer, loaded once for the speculative-decoding tests.</summary>
public sealed class SpeculationModels : IDisposable
{
    private readonly TempDir _dir = new();
    private readonly List<Checkpoint> _checkpoints = [];
    // fp32 path pinned (NativeKernels = false): this test's references and tolerances are the fp32 path's.
    private readonly CpuBackend _backend = new(1) { NativeKernels = false };

    public SpeculationModels()
    {
        var config = SpeculationCheckpoints.TinyConfig;
        Models = new Dictionary<string, Transformer>
        {
            // Drafts mostly right (~85 % on greedy runs), sometimes wrong (~20 %), almost never (plain random weights, 256 ids).
            ["agreeing"] = Load(SpeculationCheckpoints.WriteAgreeing(_dir, "agreeing", config, blockStd: 0.05f)),
            ["half-agreeing"] = Load(SpeculationCheckpoints.WriteAgreeing(_dir, "half", config, blockStd: 0.1f)),
            ["tiny-v3"] = Load(RepoPaths.TestData("models", "tiny-v3")),
            ["sample-fp8"] = Load(Path.Combine(RepoPaths.Repo, "samples", "checkpoints", "tiny-deepseek-v3"), 96),
        };
    }

    public IReadOnlyDictionary<string, Transformer> Models { get; }

    private Transformer Load(string path, int positions = 64)
    {
        var checkpoint = Checkpoint.Open(path);
        _checkpoints.Add(checkpoint);
        return new Transformer(_backend, WeightMap.Bind(checkpoint), positions);
    }

    public void Dispose()
    {
        foreach (var c in _checkpoints) c.Dispose();
        _backend.Dispose();
        _dir.Dispose();
    }
}

public sealed class SpeculativeGreedyTests(SpeculationModels fixture) : IClassFixture<SpeculationModels>
{
    public static TheoryData<string> ModelNames => ["agreeing", "half-agreeing", "tiny-v3", "sample-fp8"];

    private static Generator Plain(Transformer m, IEnumerable<int>? eos = null, Func<ITokenTextDecoder>? text = null) =>
        new(m, text, eos ?? [], speculative: SpeculativeDecoding.None);

    private static Generator Speculative(Transformer m, IEnumerable<int>? eos = null, Func<ITokenTextDecoder>? text = null) =>
        new(m, text, eos ?? [], speculative: SpeculativeDecoding.Mtp);

    /// <summary>Prompts of 1…40 tokens with token limits from 1 to the rest of the context (or none: up to the context).</summary>
    private static List<GenerationRequest> Requests(Transformer m, int count, int seed)
    {
        var rng = new Random(seed);
        var context = m.MaxPositions;
        var list = new List<GenerationRequest>();
        for (var i = 0; i < count; i++)
        {
            var length = 1 + rng.Next(40);
            var prompt = Enumerable.Range(0, length).Select(_ => rng.Next(m.VocabSize)).ToArray();
            int? max = i % 5 == 4 ? null : Math.Min(1 + rng.Next(24), context - length);
            list.Add(new GenerationRequest(prompt, SamplingOptions.Greedy with { MaxTokens = max }));
        }
        return list;
    }

    [Theory]
    [MemberData(nameof(ModelNames))]
    public void Greedy_output_is_identical_to_plain_greedy_over_many_prompts(string name)
    {
        var m = fixture.Models[name];
        var total = default(SpeculationStats);
        foreach (var r in Requests(m, 48, seed: name.Length))
        {
            var plain = Plain(m).Complete(r.Prompt, r.Options);
            var spec = Speculative(m).Complete(r.Prompt, r.Options);
            Assert.Equal(plain.Tokens, spec.Tokens);
            Assert.Equal(plain.Finish, spec.Finish);
            Assert.Equal(0, plain.Speculation.Drafted);
            Assert.InRange(spec.Speculation.Accepted, 0, spec.Speculation.Drafted);
            // A draft is verified by a step that emits at least one token besides the first.
            Assert.InRange(spec.Speculation.Drafted, 0, Math.Max(0, spec.Tokens.Count - 1));
            total += spec.Speculation;
        }
        Assert.True(total.Drafted > 100, $"only {total.Drafted} drafts");
        if (name.Contains("agreeing", StringComparison.Ordinal))
        {
            // Both outcomes happened many times, so both paths (bonus token; cache rollback) were compared.
            Assert.True(total.Accepted > 50, $"{total.Accepted} of {total.Drafted} accepted");
            Assert.True(total.Drafted - total.Accepted > 10, $"{total.Accepted} of {total.Drafted} accepted");
        }
    }

    [Theory]
    [MemberData(nameof(ModelNames))]
    public void Batched_speculative_generation_gives_each_sequence_its_plain_output(string name)
    {
        var m = fixture.Models[name];
        var requests = Requests(m, 12, seed: 100 + name.Length);
        var batch = Speculative(m).Generate(requests).ToList();
        for (var s = 0; s < requests.Count; s++)
        {
            var plain = Plain(m).Complete(requests[s].Prompt, requests[s].Options);
            var mine = batch.Where(t => t.Sequence == s).ToList();
            Assert.Equal(plain.Tokens, mine.Select(t => t.TokenId));
            Assert.Equal(plain.Finish, mine[^1].Finish);
            Assert.All(mine.SkipLast(1), t => Assert.Null(t.Finish));
        }
    }

    [Theory]
    [InlineData("agreeing")]
    [InlineData("half-agreeing")]
    public void A_stop_token_at_any_position_ends_both_the_same_way(string name)
    {
        // Every position of the plain output in turn becomes the stop token (or EOS): some land on an accepted draft,
        // some on the token after it, some on a replacement for a rejected draft.
        var m = fixture.Models[name];
        foreach (var r in Requests(m, 4, seed: 7))
        {
            var full = Plain(m).Complete(r.Prompt, r.Options with { MaxTokens = 20 }).Tokens;
            for (var k = 0; k < full.Count; k++)
            {
                var stopAt = full[k];
                var options = r.Options with { MaxTokens = 20, StopTokenIds = k % 2 == 0 ? [stopAt] : [] };
                IEnumerable<int> eos = k % 2 == 0 ? [] : [stopAt];
                var plain = Plain(m, eos).Complete(r.Prompt, options);
                var spec = Speculative(m, eos).Complete(r.Prompt, options);
                Assert.Equal(FinishReason.Stop, plain.Finish);
                Assert.Equal(plain.Tokens, spec.Tokens);
                Assert.Equal(FinishReason.Stop, spec.Finish);
            }
        }
    }

    [Theory]
    [InlineData("agreeing")]
    [InlineData("half-agreeing")]
    public void Stop_strings_cut_the_text_at_the_same_place(string name)
    {
        var m = fixture.Models[name];
        foreach (var r in Requests(m, 6, seed: 11))
        {
            var full = Plain(m).Complete(r.Prompt, r.Options with { MaxTokens = 16 }).Tokens;
            for (var k = 1; k < full.Count; k++)
            {
                var options = r.Options with { MaxTokens = 16, StopSequences = [$"{full[k - 1]}><{full[k]}"] };
                var plain = Plain(m, text: () => new ToyText()).Complete(r.Prompt, options);
                var spec = Speculative(m, text: () => new ToyText()).Complete(r.Prompt, options);
                Assert.Equal(plain.Text, spec.Text);
                Assert.Equal(plain.Tokens, spec.Tokens);
                Assert.Equal(plain.Finish, spec.Finish);
            }
        }
    }

    [Theory]
    [InlineData("agreeing")]
    [InlineData("half-agreeing")]
    public void Observed_logits_are_the_plain_ones_so_rejected_drafts_leave_no_trace_in_the_cache(string name)
    {
        var m = fixture.Models[name];
        foreach (var r in Requests(m, 6, seed: 13))
        {
            var plain = new List<(int Position, float[] Row)>();
            var spec = new List<(int Position, float[] Row)>();
            Plain(m).Generate([r], (_, p, l) => plain.Add((p, l.ToArray()))).ToList();
            var stats = Speculative(m).Generate([r], (_, p, l) => spec.Add((p, l.ToArray()))).Last().Speculation;
            Assert.Equal(plain.Select(x => x.Position), spec.Select(x => x.Position));
            for (var i = 0; i < plain.Count; i++)
                for (var v = 0; v < m.VocabSize; v++)
                    Assert.True(Math.Abs(plain[i].Row[v] - spec[i].Row[v]) <= 1e-5f, $"position {plain[i].Position}, id {v}: {plain[i].Row[v]} vs {spec[i].Row[v]} ({stats})");
        }
    }

    [Fact]
    public void Cancellation_is_checked_between_the_two_tokens_of_a_step()
    {
        var m = fixture.Models["agreeing"];
        var request = Requests(m, 1, seed: 3)[0] with { Options = SamplingOptions.Greedy with { MaxTokens = 20 } };
        var all = Speculative(m).Generate([request]).ToList();
        // Cancel right after each token in turn: nothing more may come.
        for (var k = 1; k < all.Count; k++)
        {
            using var cts = new CancellationTokenSource();
            var seen = 0;
            Assert.ThrowsAny<OperationCanceledException>(() =>
            {
                foreach (var _ in Speculative(m).Generate([request], cancellationToken: cts.Token))
                    if (++seen == k) cts.Cancel();
            });
            Assert.Equal(k, seen);
        }
    }

    [Fact]
    public void Auto_stops_drafting_for_a_sequence_whose_drafts_keep_failing_and_keeps_it_where_they_pass()
    {
        var random = fixture.Models["tiny-v3"];
        var prompt = new[] { 0, 17, 42, 99 };
        var options = SamplingOptions.Greedy with { MaxTokens = 60 };
        var always = Speculative(random).Complete(prompt, options);
        var auto = new Generator(random, eosTokenIds: [], speculative: SpeculativeDecoding.Auto).Complete(prompt, options);
        Assert.Equal(always.Tokens, auto.Tokens);
        Assert.True(always.Speculation.Drafted > Generator.AutoProbeDrafts);
        Assert.True(always.Speculation.AcceptanceRate < Generator.AutoMinAcceptance, $"{always.Speculation}");
        Assert.Equal(Generator.AutoProbeDrafts, auto.Speculation.Drafted);

        var good = fixture.Models["agreeing"];
        var goodAlways = Speculative(good).Complete(prompt, options);
        var goodAuto = new Generator(good, eosTokenIds: [], speculative: SpeculativeDecoding.Auto).Complete(prompt, options);
        Assert.True(goodAlways.Speculation.AcceptanceRate >= Generator.AutoMinAcceptance, $"{goodAlways.Speculation}");
        Assert.Equal(goodAlways.Speculation, goodAuto.Speculation);
        Assert.Equal(goodAlways.Tokens, goodAuto.Tokens);
    }

    [Fact]
    public void Mode_is_checked_against_the_model()
    {
        using var checkpoint = Checkpoint.Open(RepoPaths.TestData("models", "tiny-qwen2"));
        // fp32 path pinned (NativeKernels = false): this test's references and tolerances are the fp32 path's.
        using var backend = new CpuBackend(1) { NativeKernels = false };
        var dense = new Transformer(backend, WeightMap.Bind(checkpoint), 32);
        var e = Assert.Throws<ArgumentException>(() => new Generator(dense, speculative: SpeculativeDecoding.Mtp));
        Assert.Contains("MTP", e.Message, StringComparison.Ordinal);
        Assert.False(new Generator(dense).UsesMtp);
        Assert.True(new Generator(fixture.Models["tiny-v3"]).UsesMtp);
        Assert.False(new Generator(fixture.Models["tiny-v3"], speculative: SpeculativeDecoding.None).UsesMtp);
        Assert.Throws<ArgumentOutOfRangeException>(() => new Generator(fixture.Models["tiny-v3"], speculative: (SpeculativeDecoding)42));
    }

    private sealed class ToyText : ITokenTextDecoder
    {
        public string Append(int tokenId) => $"<{tokenId}>";

        public string Flush() => "";
    }
}
