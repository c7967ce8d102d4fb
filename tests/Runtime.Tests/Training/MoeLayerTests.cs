using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Compute.Cpu;
using DeepSeek.Runtime.Model;
using DeepSeek.Runtime.Tests.Checkpoints;
using DeepSeek.Runtime.Training;
using DeepSeek.Runtime.Training.Layers;

namespace DeepSeek.Runtime.Tests.Training;

public class MoeLayerTests
{
    private static ModelConfig Small(TopKMethod method, ScoringFunction scoring, bool norm) => ModelConfig.Parse(ConfigFixtures.TinyV3) with
    {
        HiddenSize = 6, MoeIntermediateSize = 3, NRoutedExperts = 8, NSharedExperts = 1, NumExpertsPerTok = 2,
        NGroup = 4, TopKGroup = 2, TopKMethod = method, ScoringFunc = scoring, NormTopKProb = norm, RoutedScalingFactor = 2.5,
    };

    [Theory]
    [InlineData(TopKMethod.NoAuxTc, ScoringFunction.Sigmoid, true)]
    [InlineData(TopKMethod.Greedy, ScoringFunction.Softmax, false)]
    [InlineData(TopKMethod.GroupLimitedGreedy, ScoringFunction.Softmax, true)]
    public void Backward_matches_finite_differences_for_a_fixed_choice(TopKMethod method, ScoringFunction scoring, bool norm)
    {
        var config = Small(method, scoring, norm);
        const int tokens = 5;
        var rng = new Random(7);
        var p = new MoeParameters<double>(config);
        foreach (var (_, values) in p.Tensors())
            for (var i = 0; i < values.Length; i++) values[i] = rng.NextDouble() - 0.5;
        float[]? bias = method == TopKMethod.NoAuxTc ? Enumerable.Range(0, 8).Select(_ => (float)(rng.NextDouble() * 0.2 - 0.1)).ToArray() : null;
        var x = Enumerable.Range(0, tokens * 6).Select(_ => rng.NextDouble() * 4 - 2).ToArray();
        var g = Enumerable.Range(0, tokens * 6).Select(_ => rng.NextDouble() * 2 - 1).ToArray();
        var layer = new MoeLayer<double>(config, tokens);
        double Loss()
        {
            var y = new double[x.Length];
            layer.Forward(p, x, bias, y);
            return y.Zip(g, (a, b) => a * b).Sum();
        }
        Loss();
        var load = (int[])layer.Load.Clone();
        Assert.Equal(tokens * 2, load.Sum());
        var grads = new MoeParameters<double>(config);
        var dx = new double[x.Length];
        layer.Backward(p, g, grads, dx);

        var analytic = grads.Tensors().ToDictionary(t => t.Name, t => t.Values);
        foreach (var (name, values) in p.Tensors().Append(("x", x)))
        {
            var expected = name == "x" ? dx : analytic[name];
            // The nudge must not change the choice, or the difference would measure a jump.
            FiniteDifferences.AssertGradient(name, values, expected, Loss, afterNudge: () => Assert.Equal(load, layer.Load));
        }
        Assert.Contains(analytic["gate"], v => Math.Abs(v) > 1e-4);
        Assert.All(grads.Experts.Where((_, e) => load[e] == 0), unused => Assert.All(unused.Gate, v => Assert.Equal(0, v)));
    }

    [Fact]
    public void Training_forward_equals_the_inference_moe_on_real_weights()
    {
        using var checkpoint = Checkpoint.Open(RepoPaths.TestData("models", "tiny-v3"));
        var config = checkpoint.Config;
        var w = WeightMap.Bind(checkpoint).Blocks[1].Moe!;
        var p = new MoeParameters<double>(config);
        static void Load(double[] target, WeightTensor source)
        {
            var v = source.ToFloatArray();
            for (var i = 0; i < v.Length; i++) target[i] = v[i];
        }
        Load(p.Router, w.Gate);
        for (var e = 0; e < p.Experts.Length; e++)
        {
            Load(p.Experts[e].Gate, w.Experts[e].Gate);
            Load(p.Experts[e].Up, w.Experts[e].Up);
            Load(p.Experts[e].Down, w.Experts[e].Down);
        }
        Load(p.Shared!.Gate, w.SharedExperts!.Gate);
        Load(p.Shared.Up, w.SharedExperts.Up);
        Load(p.Shared.Down, w.SharedExperts.Down);

        const int tokens = 10;
        var rng = new Random(9);
        var x = Enumerable.Range(0, tokens * config.HiddenSize).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        var expected = new double[x.Length];
        new MoeLayer<double>(config, tokens).Forward(p, x.Select(v => (double)v).ToArray(), w.GateBias!.ToFloatArray(), expected);

        // fp32 path pinned (NativeKernels = false): this test's references and tolerances are the fp32 path's.
        using var backend = new CpuBackend { NativeKernels = false };
        var moe = new Moe(backend, config, w);
        var input = backend.Allocate(tokens, config.HiddenSize);
        backend.Upload(x, input);
        var got = new float[x.Length];
        backend.Download(moe.Forward(input, 1, null), got);
        for (var i = 0; i < got.Length; i++) Assert.True(Math.Abs(expected[i] - got[i]) <= 1e-5, $"element {i}: {expected[i]} vs {got[i]}");
    }

    [Fact]
    public void Aux_loss_free_bias_updates_reduce_load_imbalance()
    {
        // A router skewed toward two experts; the bias alone (γ = 0.001 per step, as in V3) must even the load out.
        var config = Small(TopKMethod.NoAuxTc, ScoringFunction.Sigmoid, true);
        const int tokens = 256;
        var rng = new Random(11);
        var p = new MoeParameters<float>(config);
        for (var i = 0; i < p.Router.Length; i++) p.Router[i] = (float)(rng.NextDouble() - 0.5) * 0.5f;
        for (var d = 0; d < 6; d++) { p.Router[0 * 6 + d] += 0.4f; p.Router[5 * 6 + d] += 0.4f; }
        var x = Enumerable.Range(0, tokens * 6).Select(_ => (float)(rng.NextDouble() * 0.5 + 0.25)).ToArray();
        var bias = new float[8];
        var layer = new MoeLayer<float>(config, tokens);
        var y = new float[x.Length];

        layer.Forward(p, x, bias, y);
        var before = AuxLossFreeBalancer.Imbalance(layer.Load);
        for (var step = 0; step < 400; step++)
        {
            layer.Forward(p, x, bias, y);
            AuxLossFreeBalancer.Update(bias, layer.Load, 0.001f);
        }
        layer.Forward(p, x, bias, y);
        var after = AuxLossFreeBalancer.Imbalance(layer.Load);

        Assert.True(before > 2, $"the skew should start large (max/mean load {before:F2})");
        Assert.True(after < before / 2, $"imbalance {before:F2} → {after:F2}");
        Assert.True(bias[0] < 0 && bias[5] < 0, "overloaded experts get a negative bias");
    }

    [Fact]
    public void Balancer_moves_each_bias_by_gamma_toward_the_mean()
    {
        var bias = new float[] { 0, 0, 0, 0 };
        AuxLossFreeBalancer.Update(bias, [10, 2, 4, 4], 0.5f);   // mean 5
        Assert.Equal([-0.5f, 0.5f, 0.5f, 0.5f], bias);
        AuxLossFreeBalancer.Update(bias, [5, 5, 5, 5], 0.5f);
        Assert.Equal([-0.5f, 0.5f, 0.5f, 0.5f], bias);
        AuxLossFreeBalancer.Update(bias, [9, 0, 0, 0], 0f);       // γ = 0 disables
        Assert.Equal([-0.5f, 0.5f, 0.5f, 0.5f], bias);
    }
}
