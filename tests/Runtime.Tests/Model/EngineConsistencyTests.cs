using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Compute.Cpu;
using DeepSeek.Runtime.Generation;
using DeepSeek.Runtime.Model;
using DeepSeek.Runtime.Tensors;
using DeepSeek.Runtime.Tests.Checkpoints;

namespace DeepSeek.Runtime.Tests.Model;

/// <summary>
/// Properties the engine must hold whatever the weights: absorbed and plain MLA agree, decoding through the cache
/// equals recomputing, and sequences batched together equal sequences run alone. Weights have a large spread so
/// attention is peaked and a wrong position, rotation or cache row changes the logits visibly.
/// </summary>
public sealed class EngineConsistencyTests : IDisposable
{
    private readonly TempDir _dir = new();
    private readonly Checkpoint _bf16;
    private readonly Checkpoint _fp8;

    public EngineConsistencyTests()
    {
        var spread = new SyntheticCheckpointOptions { Seed = 11, InitStd = 0.25f };
        _bf16 = Checkpoint.Open(TinyCheckpoints.Write(_dir, "bf16", spread));
        _fp8 = Checkpoint.Open(TinyCheckpoints.Write(_dir, "fp8", spread with { WeightDType = DType.F8_E4M3, Shards = 3 }));
    }

    public void Dispose()
    {
        _bf16.Dispose();
        _fp8.Dispose();
        _dir.Dispose();
    }

    private static readonly int[] Prompt = [5, 17, 300, 42, 42, 7, 99, 250, 1, 64, 128, 3, 77, 200, 31, 8, 19, 260, 11, 90];

    private static float[] PrefillLogits(Transformer model, int[] tokens)
    {
        var cache = model.CreateCache(1, 64);
        var rows = Enumerable.Range(0, tokens.Length).ToArray();
        var logits = new float[tokens.Length * model.VocabSize];
        model.Forward(tokens, new int[tokens.Length], cache, rows, logits);
        return logits;
    }

    private static float MaxAbsDiff(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        Assert.Equal(a.Length, b.Length);
        var max = 0f;
        for (var i = 0; i < a.Length; i++)
        {
            Assert.True(float.IsFinite(a[i]) && float.IsFinite(b[i]), $"non-finite logit at {i}");
            max = Math.Max(max, Math.Abs(a[i] - b[i]));
        }
        return max;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Absorbed_and_plain_mla_agree(bool fp8)
    {
        var weights = WeightMap.Bind(fp8 ? _fp8 : _bf16);
        // fp32 path pinned (NativeKernels = false): this test's references and tolerances are the fp32 path's.
        using var backend = new CpuBackend { NativeKernels = false };
        var absorbed = PrefillLogits(new Transformer(backend, weights, 64, MlaMode.Absorbed), Prompt);
        var plain = PrefillLogits(new Transformer(backend, weights, 64, MlaMode.Plain), Prompt);
        Assert.True(absorbed.Max(Math.Abs) > 0.1f, "logits are too flat for this test to see anything");
        Assert.True(MaxAbsDiff(absorbed, plain) <= 1e-4f, $"absorbed vs plain: {MaxAbsDiff(absorbed, plain)}");
    }

    [Theory]
    [InlineData(MlaMode.Absorbed)]
    [InlineData(MlaMode.Plain)]
    public void Decoding_through_the_cache_equals_prefill(MlaMode mode)
    {
        // fp32 path pinned (NativeKernels = false): this test's references and tolerances are the fp32 path's.
        using var backend = new CpuBackend { NativeKernels = false };
        var model = new Transformer(backend, WeightMap.Bind(_bf16), 64, mode);
        var reference = PrefillLogits(model, Prompt);

        var cache = model.CreateCache(1, 64);
        var vocab = model.VocabSize;
        var split = 7;
        var logits = new float[Prompt.Length * vocab];
        model.Forward(Prompt.AsSpan(0, split), new int[split], cache, Enumerable.Range(0, split).ToArray(), logits);
        for (var i = split; i < Prompt.Length; i++)
            model.Forward(Prompt.AsSpan(i, 1), [0], cache, [0], logits.AsSpan(i * vocab, vocab));

        Assert.Equal(Prompt.Length, cache.Length(0));
        Assert.True(MaxAbsDiff(reference, logits) <= 1e-4f, $"cached decode vs prefill: {MaxAbsDiff(reference, logits)}");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]   // the native BF16 GEMM too (where built): every row count takes it, so batching changes nothing either
    public void Batched_sequences_equal_sequences_run_alone(bool native)
    {
        using var backend = new CpuBackend { NativeKernels = native };
        var model = new Transformer(backend, WeightMap.Bind(native ? _bf16 : _fp8), 64);
        var a = Prompt;
        var b = Prompt.Skip(3).Take(9).Reverse().ToArray();
        var vocab = model.VocabSize;

        // Interleave the two prompts in one call: sequence ids say which cache rows each token uses.
        var tokens = a.Concat(b).ToArray();
        var sequences = a.Select(_ => 0).Concat(b.Select(_ => 1)).ToArray();
        var cache = model.CreateCache(2, 64);
        var logits = new float[tokens.Length * vocab];
        model.Forward(tokens, sequences, cache, Enumerable.Range(0, tokens.Length).ToArray(), logits);

        Assert.True(MaxAbsDiff(PrefillLogits(model, a), logits.AsSpan(0, a.Length * vocab)) <= 1e-5f);
        Assert.True(MaxAbsDiff(PrefillLogits(model, b), logits.AsSpan(a.Length * vocab)) <= 1e-5f);

        // One decode step for both sequences at once, at different positions.
        var step = new float[2 * vocab];
        model.Forward([9, 4], [0, 1], cache, [0, 1], step);
        var aloneA = PrefillLogits(model, [.. a, 9]);
        var aloneB = PrefillLogits(model, [.. b, 4]);
        Assert.True(MaxAbsDiff(aloneA.AsSpan(a.Length * vocab), step.AsSpan(0, vocab)) <= 1e-4f);
        Assert.True(MaxAbsDiff(aloneB.AsSpan(b.Length * vocab), step.AsSpan(vocab)) <= 1e-4f);
    }

    [Fact]
    public void Mtp_head_gives_finite_logits_that_depend_on_the_next_token()
    {
        // fp32 path pinned (NativeKernels = false): this test's references and tolerances are the fp32 path's.
        using var backend = new CpuBackend { NativeKernels = false };
        var model = new Transformer(backend, WeightMap.Bind(_bf16), 64);
        var cache = model.CreateCache(1, 64);
        var vocab = model.VocabSize;
        var main = model.Forward(Prompt, new int[Prompt.Length], cache, [], []);
        var next = Prompt.Skip(1).Append(2).ToArray();
        var mtp = new float[Prompt.Length * vocab];
        model.MtpForward(next, main, cache, Enumerable.Range(0, Prompt.Length).ToArray(), mtp);
        Assert.All(mtp, v => Assert.True(float.IsFinite(v)));

        var cache2 = model.CreateCache(1, 64);
        var main2 = model.Forward(Prompt, new int[Prompt.Length], cache2, [], []);
        var other = next.ToArray();
        other[^1] = 3;
        var mtp2 = new float[Prompt.Length * vocab];
        model.MtpForward(other, main2, cache2, Enumerable.Range(0, Prompt.Length).ToArray(), mtp2);
        Assert.True(MaxAbsDiff(mtp.AsSpan(0, (Prompt.Length - 1) * vocab), mtp2.AsSpan(0, (Prompt.Length - 1) * vocab)) <= 1e-6f, "earlier positions must not see a later token");
        Assert.True(MaxAbsDiff(mtp.AsSpan((Prompt.Length - 1) * vocab), mtp2.AsSpan((Prompt.Length - 1) * vocab)) > 1e-4f, "the last position must depend on its next token");
    }

    [Fact]
    public void Bad_ids_and_overflow_are_rejected_before_any_work()
    {
        // fp32 path pinned (NativeKernels = false): this test's references and tolerances are the fp32 path's.
        using var backend = new CpuBackend { NativeKernels = false };
        var model = new Transformer(backend, WeightMap.Bind(_bf16), 64);
        var cache = model.CreateCache(1, 8);
        Assert.Throws<ArgumentOutOfRangeException>(() => model.Forward([1, 320], [0, 0], cache, [], []));
        Assert.Throws<ArgumentOutOfRangeException>(() => model.Forward([-1], [0], cache, [], []));
        Assert.Equal(0, cache.Length(0));
        Assert.Throws<ContextLengthException>(() => model.Forward(new int[9], new int[9], cache, [], []));
        Assert.Equal(0, cache.Length(0));
        Assert.Throws<ContextLengthException>(() => model.CreateCache(1, 65));
    }
}
