using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Model;
using DeepSeek.Runtime.Tests.Checkpoints;
using DeepSeek.Runtime.Training.Layers;

namespace DeepSeek.Runtime.Tests.Training;

/// <summary>The whole MLA layer's backward (every weight and the input) against finite differences in float64.</summary>
public class MlaLayerGradientTests
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Every_parameter_and_the_input_match_finite_differences(bool qLora)
    {
        var config = ModelConfig.Parse(ConfigFixtures.TinyV3) with
        {
            HiddenSize = 8, NumAttentionHeads = 2, NumKeyValueHeads = 2, QkNopeHeadDim = 4, QkRopeHeadDim = 2, VHeadDim = 3,
            KvLoraRank = 5, QLoraRank = qLora ? 6 : null,
        };
        const int tokens = 4;
        var rope = RopeTable.For(config, 16);   // YaRN (factor 4) as in the tiny V3 config
        var rng = new Random(qLora ? 1 : 2);
        var p = new MlaParameters<double>(config);
        foreach (var (name, values) in p.Tensors())
            for (var i = 0; i < values.Length; i++) values[i] = name.EndsWith("layernorm", StringComparison.Ordinal) ? 1 + 0.3 * (rng.NextDouble() - 0.5) : rng.NextDouble() - 0.5;
        var x = Enumerable.Range(0, tokens * config.HiddenSize).Select(_ => rng.NextDouble() * 2 - 1).ToArray();
        var g = Enumerable.Range(0, tokens * config.HiddenSize).Select(_ => rng.NextDouble() * 2 - 1).ToArray();

        var layer = new MlaLayer<double>(config, rope, tokens);
        double Loss()
        {
            var y = new double[x.Length];
            layer.Forward(p, x, y);
            return y.Zip(g, (a, b) => a * b).Sum();
        }

        Loss();
        var grads = new MlaParameters<double>(config);
        var dx = new double[x.Length];
        layer.Backward(p, g, grads, dx);

        var analytic = grads.Tensors().ToDictionary(t => t.Name, t => t.Values);
        foreach (var (name, values) in p.Tensors().Append(("x", x)))
        {
            var expected = name == "x" ? dx : analytic[name];
            FiniteDifferences.AssertGradient(name, values, expected, Loss);
            Assert.Contains(expected, v => Math.Abs(v) > 1e-4);
        }
    }
}

/// <summary>The training layer computes what the inference engine computes, on a real checkpoint's weights.</summary>
public class MlaLayerConsistencyTests
{
    [Theory]
    [InlineData(MlaMode.Absorbed)]
    [InlineData(MlaMode.Plain)]
    public void Training_forward_equals_inference_attention(MlaMode mode)
    {
        using var checkpoint = Checkpoint.Open(RepoPaths.TestData("models", "tiny-v3"));
        var map = WeightMap.Bind(checkpoint);
        var config = checkpoint.Config;
        const int tokens = 12;
        var rope = RopeTable.For(config, 64);
        var w = map.Blocks[0].Mla!;
        var p = new MlaParameters<double>(config);
        void Load(double[]? target, WeightTensor? source)
        {
            if (target is null) return;
            var values = source!.ToFloatArray();
            for (var i = 0; i < values.Length; i++) target[i] = values[i];
        }
        Load(p.WqA, w.WqA); Load(p.QNorm, w.QNorm); Load(p.WqB, w.WqB); Load(p.Wq, w.Wq);
        Load(p.WkvA, w.WkvA); Load(p.KvNorm, w.KvNorm); Load(p.WkvB, w.WkvB); Load(p.Wo, w.Wo);

        var rng = new Random(5);
        var x = Enumerable.Range(0, tokens * config.HiddenSize).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        var expected = new double[x.Length];
        new MlaLayer<double>(config, rope, tokens).Forward(p, x.Select(v => (double)v).ToArray(), expected);

        // fp32 path pinned (NativeKernels = false): this test's references and tolerances are the fp32 path's.
        using var backend = new DeepSeek.Runtime.Compute.Cpu.CpuBackend { NativeKernels = false };
        var mla = new Mla(backend, config, w, rope, mode);
        var cache = new DeepSeek.Runtime.Generation.KvCache(backend, config, mode, 1, 64);
        var slots = cache.Append(new int[tokens]);
        var input = backend.Allocate(tokens, config.HiddenSize);
        backend.Upload(x, input);
        var got = new float[x.Length];
        backend.Download(mla.Forward(input, slots, cache.Layer(0)), got);

        for (var i = 0; i < got.Length; i++) Assert.True(Math.Abs(expected[i] - got[i]) <= 1e-5, $"element {i}: {expected[i]} vs {got[i]}");
    }
}
