using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Compute;
using DeepSeek.Runtime.Compute.Cpu;
using DeepSeek.Runtime.Distributed;
using DeepSeek.Runtime.Model;
using DeepSeek.Runtime.Tests.Checkpoints;
using DeepSeek.Runtime.Training.Layers;

namespace DeepSeek.Runtime.Tests.Distributed;

public sealed class ExpertParallelTests
{
    private static float[] Tokens(int rank, int count, int hidden) =>
        Enumerable.Range(0, count * hidden).Select(i => (float)Math.Sin(1 + 0.37 * i + 11.3 * rank) * 1.5f).ToArray();

    private static float[] Forward(IComputeBackend backend, Func<ComputeTensor, ComputeTensor> layer, float[] x, int hidden)
    {
        var rows = x.Length / hidden;
        var input = backend.Allocate(rows, hidden);
        backend.Upload(x, input);
        var y = new float[x.Length];
        var output = layer(input);
        if (rows > 0) backend.Download(output, y);
        return y;
    }

    [Theory]
    [InlineData(2, new[] { 7, 3 })]
    [InlineData(4, new[] { 5, 0, 9, 2 })]
    public void Inference_equals_the_single_process_moe_bit_for_bit(int ranks, int[] tokensPerRank)
    {
        using var checkpoint = Checkpoint.Open(RepoPaths.TestData("models", "tiny-v3"));
        var config = checkpoint.Config;
        var weights = WeightMap.Bind(checkpoint).Blocks[1].Moe!;
        var h = config.HiddenSize;
        var inputs = Enumerable.Range(0, ranks).Select(r => Tokens(r, tokensPerRank[r], h)).ToArray();

        // fp32 path pinned (NativeKernels = false): this test's references and tolerances are the fp32 path's.
        using var reference = new CpuBackend(threads: 1) { NativeKernels = false };
        var all = Forward(reference, x => new Moe(reference, config, weights).Forward(x, 1, null), inputs.SelectMany(v => v).ToArray(), h);

        var outputs = Ranks.Run(ranks, c =>
        {
            // fp32 path pinned (NativeKernels = false): this test's references and tolerances are the fp32 path's.
            using var backend = new CpuBackend(threads: 1) { NativeKernels = false };
            var moe = new ExpertParallelMoe(backend, config, weights, c);
            return Forward(backend, moe.Forward, inputs[c.Rank], h);
        });
        var at = 0;
        for (var r = 0; r < ranks; r++)
        {
            Assert.Equal(all.AsSpan(at, inputs[r].Length).ToArray(), outputs[r]);
            at += inputs[r].Length;
        }
        Assert.Contains(all, v => Math.Abs(v) > 1e-3);
    }

    [Fact]
    public void Router_without_a_node_limit_is_exactly_the_gate_and_with_one_spans_at_most_M_ranks()
    {
        var config = ModelConfig.Parse(ConfigFixtures.TinyV3) with
        {
            NRoutedExperts = 16, NumExpertsPerTok = 4, NGroup = 4, TopKGroup = 3, TopKMethod = TopKMethod.NoAuxTc,
            ScoringFunc = ScoringFunction.Sigmoid, NormTopKProb = true, RoutedScalingFactor = 2.5,
        };
        var rng = new Random(5);
        var bias = Enumerable.Range(0, 16).Select(_ => (float)(rng.NextDouble() * 0.2 - 0.1)).ToArray();
        const int tokens = 300;
        var logits = Enumerable.Range(0, tokens * 16).Select(_ => (float)(rng.NextDouble() * 6 - 3)).ToArray();
        var placement = new ExpertPlacement(16, 8);

        var (gateIds, gateWeights) = (new int[tokens * 4], new float[tokens * 4]);
        new Gate(config, bias).Route(logits, tokens, gateIds, gateWeights);
        var (ids, weights) = (new int[tokens * 4], new float[tokens * 4]);
        new ExpertRouter(config, bias, placement).Route(logits, tokens, ids, weights);
        Assert.Equal(gateIds, ids);
        Assert.Equal(gateWeights, weights);

        var limited = new ExpertRouter(config, bias, placement, maxRanksPerToken: 2);
        limited.Route(logits, tokens, ids, weights);
        var changed = 0;
        for (var t = 0; t < tokens; t++)
        {
            var chosen = ids.AsSpan(t * 4, 4).ToArray();
            var spanned = chosen.Select(placement.Owner).Distinct().ToArray();
            Assert.True(spanned.Length <= 2, $"token {t} reaches ranks {string.Join(",", spanned)}");
            Assert.Equal(4, chosen.Distinct().Count());
            var gateSpan = gateIds.AsSpan(t * 4, 4).ToArray().Select(placement.Owner).Distinct().Count();
            if (gateSpan <= 2)
            {
                // The limit keeps the ranks with the best top-2 sums; a choice already inside two ranks need not change,
                // but when it does not, the weights must be the gate's.
                if (chosen.SequenceEqual(gateIds.AsSpan(t * 4, 4).ToArray()))
                    Assert.Equal(gateWeights.AsSpan(t * 4, 4).ToArray(), weights.AsSpan(t * 4, 4).ToArray());
            }
            else changed++;
            var sum = weights.AsSpan(t * 4, 4).ToArray().Sum();
            Assert.True(Math.Abs(sum - 2.5f) < 1e-5, $"token {t}: normalised weights sum to {sum}");
        }
        Assert.True(changed > 0, "the random logits never needed the node limit; the test proves nothing");
    }

    [Fact]
    public void Node_limited_inference_equals_a_single_process_moe_with_the_same_choice()
    {
        using var checkpoint = Checkpoint.Open(RepoPaths.TestData("models", "tiny-v3"));
        var config = checkpoint.Config;
        var weights = WeightMap.Bind(checkpoint).Blocks[1].Moe!;
        int h = config.HiddenSize, k = config.NumExpertsPerTok, n = config.NRoutedExperts;
        var inputs = Enumerable.Range(0, 4).Select(r => Tokens(r, 6, h)).ToArray();
        var placement = new ExpertPlacement(n, 4);

        // Reference: the single-process dispatch (as Moe.Forward) driven by the node-limited router.
        // fp32 path pinned (NativeKernels = false): this test's references and tolerances are the fp32 path's.
        using var backend = new CpuBackend(threads: 1) { NativeKernels = false };
        var x = inputs.SelectMany(v => v).ToArray();
        var tokens = x.Length / h;
        var input = backend.Allocate(tokens, h);
        backend.Upload(x, input);
        var logits = new float[tokens * n];
        backend.RouterLogits(input, backend.Bind(weights.Gate), logits);
        var (ids, scale) = (new int[tokens * k], new float[tokens * k]);
        new ExpertRouter(config, weights.GateBias!.ToFloatArray(), placement, maxRanksPerToken: 1).Route(logits, tokens, ids, scale);
        for (var t = 0; t < tokens; t++) Assert.Single(ids.AsSpan(t * k, k).ToArray().Select(placement.Owner).Distinct());
        var y = new Mlp(backend, weights.SharedExperts!).Forward(input);
        for (var e = 0; e < n; e++)
        {
            var slots = Enumerable.Range(0, ids.Length).Where(i => ids[i] == e).ToArray();
            if (slots.Length == 0) continue;
            var xe = backend.Allocate(slots.Length, h);
            backend.GatherRows(input, slots.Select(i => i / k).ToArray(), xe);
            backend.ScatterAddRows(new Mlp(backend, weights.Experts[e]).Forward(xe), slots.Select(i => i / k).ToArray(), slots.Select(i => scale[i]).ToArray(), y);
        }
        var expected = new float[x.Length];
        backend.Download(y, expected);

        var outputs = Ranks.Run(4, c =>
        {
            // fp32 path pinned (NativeKernels = false): this test's references and tolerances are the fp32 path's.
            using var b = new CpuBackend(threads: 1) { NativeKernels = false };
            return Forward(b, new ExpertParallelMoe(b, config, weights, c, maxRanksPerToken: 1).Forward, inputs[c.Rank], h);
        });
        Assert.Equal(expected, outputs.SelectMany(o => o).ToArray());
    }

    private static ModelConfig Small(TopKMethod method, ScoringFunction scoring, bool norm) => ModelConfig.Parse(ConfigFixtures.TinyV3) with
    {
        HiddenSize = 6, MoeIntermediateSize = 3, NRoutedExperts = 8, NSharedExperts = 1, NumExpertsPerTok = 2,
        NGroup = 4, TopKGroup = 2, TopKMethod = method, ScoringFunc = scoring, NormTopKProb = norm, RoutedScalingFactor = 2.5,
    };

    [Theory]
    [InlineData(2, TopKMethod.NoAuxTc, ScoringFunction.Sigmoid, true, 0.01)]
    [InlineData(4, TopKMethod.NoAuxTc, ScoringFunction.Sigmoid, true, 0.0)]
    [InlineData(4, TopKMethod.Greedy, ScoringFunction.Softmax, false, 0.01)]
    public void Training_outputs_and_every_gradient_equal_the_single_process_layer(int ranks, TopKMethod method, ScoringFunction scoring, bool norm, double alpha)
    {
        var config = Small(method, scoring, norm);
        const int tokens = 5, h = 6;
        var rng = new Random(3);
        var p = new MoeParameters<double>(config);
        foreach (var (_, values) in p.Tensors())
            for (var i = 0; i < values.Length; i++) values[i] = rng.NextDouble() - 0.5;
        float[]? bias = method == TopKMethod.NoAuxTc ? Enumerable.Range(0, 8).Select(_ => (float)(rng.NextDouble() * 0.2 - 0.1)).ToArray() : null;
        var xs = Enumerable.Range(0, ranks).Select(_ => Enumerable.Range(0, tokens * h).Select(_ => rng.NextDouble() * 4 - 2).ToArray()).ToArray();
        var dys = Enumerable.Range(0, ranks).Select(_ => Enumerable.Range(0, tokens * h).Select(_ => rng.NextDouble() * 2 - 1).ToArray()).ToArray();

        // Reference: one process, each rank's tokens as its own sequence, gradients accumulated.
        var expectedGrads = new MoeParameters<double>(config);
        var expectedY = new double[ranks][];
        var expectedDx = new double[ranks][];
        for (var r = 0; r < ranks; r++)
        {
            var layer = new MoeLayer<double>(config, tokens, alpha);
            expectedY[r] = new double[tokens * h];
            expectedDx[r] = new double[tokens * h];
            layer.Forward(p, xs[r], bias, expectedY[r]);
            layer.Backward(p, dys[r], expectedGrads, expectedDx[r], 1.0);
        }

        var results = Ranks.Run(ranks, c =>
        {
            var layer = new ExpertParallelMoeLayer<double>(config, c, tokens, alpha);
            var grads = new MoeParameters<double>(config);
            var y = new double[tokens * h];
            var dx = new double[tokens * h];
            layer.Forward(p, xs[c.Rank], bias, y);
            layer.Backward(p, dys[c.Rank], grads, dx, 1.0);
            c.AllReduce<double>(grads.Router);
            foreach (var (_, values) in grads.Shared!.Tensors()) c.AllReduce<double>(values);
            return (y, dx, grads, layer.Placement);
        });
        for (var r = 0; r < ranks; r++)
        {
            var (y, dx, grads, placement) = results[r];
            Assert.Equal(expectedY[r], y);
            AssertClose(expectedDx[r], dx, "dx");
            AssertClose(expectedGrads.Router, grads.Router, "router");
            foreach (var ((name, want), (_, got)) in expectedGrads.Shared!.Tensors().Zip(grads.Shared!.Tensors())) AssertClose(want, got, "shared " + name);
            for (var e = 0; e < 8; e++)
            {
                var mine = placement.Owner(e) == r;
                foreach (var ((name, want), (_, got)) in expectedGrads.Experts[e].Tensors().Zip(grads.Experts[e].Tensors()))
                    if (mine) AssertClose(want, got, $"expert {e} {name}");
                    else Assert.All(got, v => Assert.Equal(0.0, v));
            }
        }
        Assert.Contains(expectedGrads.Router, v => Math.Abs(v) > 1e-4);
    }

    private static void AssertClose(double[] expected, double[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        var scale = Math.Max(1e-3, expected.Max(Math.Abs));
        for (var i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-12 * scale, $"{what}[{i}]: {expected[i]:R} vs {actual[i]:R}");
    }

    [Fact]
    public void Experts_that_do_not_divide_over_the_ranks_are_refused_with_the_reason()
    {
        var e = Assert.Throws<ArgumentException>(() => new ExpertPlacement(8, 3));
        Assert.Contains("n_routed_experts", e.Message);
    }
}
