using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Tests.Checkpoints;
using DeepSeek.Runtime.Training;
using DeepSeek.Runtime.Training.Layers;
using DeepSeek.Runtime.Training.Sft;

namespace DeepSeek.Runtime.Tests.Training;

/// <summary>The sequence-wise MoE balance loss (DeepSeek-V3 §2.1.2) and activation recomputation.</summary>
public class BalanceLossAndRecomputeTests
{
    private static ModelConfig TinyMoeWithMtp(int layers = 2) => ModelConfig.Parse(ConfigFixtures.TinyV3) with
    {
        VocabSize = 16, HiddenSize = 8, IntermediateSize = 12, MoeIntermediateSize = 4, NumHiddenLayers = layers, FirstKDenseReplace = 1,
        NumAttentionHeads = 2, NumKeyValueHeads = 2, QLoraRank = 6, KvLoraRank = 5, QkNopeHeadDim = 4, QkRopeHeadDim = 2, VHeadDim = 3,
        NRoutedExperts = 8, NSharedExperts = 1, NumExpertsPerTok = 2, NGroup = 4, TopKGroup = 2, NumNextNPredictLayers = 1,
        BosTokenId = 0, EosTokenIds = [1],
    };

    private static ModelParameters<double> Random(ModelConfig config, int seed, bool mtpCopies = true)
    {
        var rng = new Random(seed);
        var p = ModelParameters<double>.Zeros(config, mtpCopies);
        foreach (var (name, values) in p.Tensors())
            for (var i = 0; i < values.Length; i++)
                values[i] = name.EndsWith("norm.weight", StringComparison.Ordinal) || name.EndsWith("layernorm.weight", StringComparison.Ordinal)
                    ? 1 + 0.2 * (rng.NextDouble() - 0.5) : (rng.NextDouble() - 0.5) * 0.8;
        foreach (var bias in p.RouterBias) if (bias is not null) for (var e = 0; e < bias.Length; e++) bias[e] = (float)(rng.NextDouble() * 0.2 - 0.1);
        return p;
    }

    private static readonly int[][] Batch = [[0, 5, 9, 3, 14, 2, 7], [0, 11, 4, 4, 8, 15, 6]];

    [Fact]
    public void Whole_model_gradient_with_the_balance_loss_matches_finite_differences()
    {
        var config = TinyMoeWithMtp();
        var p = Random(config, 3);
        var rng = new Random(11);
        const double lambda = 0.3, alpha = 0.5;
        var model = new TrainableModel<double>(p, 7, alpha);
        double Loss() => model.ForwardBackward(Batch, ModelParameters<double>.ZerosLike(p), lambda).Total;
        var grads = ModelParameters<double>.ZerosLike(p);
        var loss = model.ForwardBackward(Batch, grads, lambda);
        Assert.True(loss.Balance > 0);
        Assert.Equal(loss.Main + lambda * loss.Mtp + loss.Balance, loss.Total, 12);
        var loads = model.ExpertLoad.Select(l => l?.ToArray()).ToArray();

        // The balance loss changes the gradient noticeably (so the check below exercises it).
        var plain = ModelParameters<double>.ZerosLike(p);
        var without = new TrainableModel<double>(p, 7).ForwardBackward(Batch, plain, lambda);
        Assert.Equal(0.0, without.Balance);
        Assert.Equal(without.Main, loss.Main);
        var router = "model.layers.1.mlp.gate.weight";
        Assert.Contains(grads[router].Zip(plain[router]), x => Math.Abs(x.First - x.Second) > 1e-3);
        var mtpRouter = "model.layers.2.mlp.gate.weight";
        Assert.Contains(grads[mtpRouter].Zip(plain[mtpRouter]), x => Math.Abs(x.First - x.Second) > 1e-4);

        var analytic = grads.Tensors().ToDictionary(t => t.Name, t => t.Values);
        foreach (var (name, values) in p.Tensors())
        {
            var picks = values.Length <= 8 || name.EndsWith("mlp.gate.weight", StringComparison.Ordinal)
                ? Enumerable.Range(0, values.Length) : Enumerable.Range(0, 4).Select(_ => rng.Next(values.Length));
            FiniteDifferences.AssertGradient(name, values, analytic[name], Loss, picks,
                () => { for (var l = 0; l < loads.Length; l++) Assert.Equal(loads[l], model.ExpertLoad[l]); });   // the nudge kept every choice
        }
    }

    [Theory]
    [InlineData(TopKMethod.NoAuxTc, ScoringFunction.Sigmoid, true)]
    [InlineData(TopKMethod.Greedy, ScoringFunction.Softmax, false)]
    [InlineData(TopKMethod.GroupLimitedGreedy, ScoringFunction.Softmax, true)]
    public void Layer_balance_loss_matches_its_definition_and_finite_differences(TopKMethod method, ScoringFunction scoring, bool norm)
    {
        var config = ModelConfig.Parse(ConfigFixtures.TinyV3) with
        {
            HiddenSize = 6, MoeIntermediateSize = 3, NRoutedExperts = 8, NSharedExperts = 1, NumExpertsPerTok = 2,
            NGroup = 4, TopKGroup = 2, TopKMethod = method, ScoringFunc = scoring, NormTopKProb = norm, RoutedScalingFactor = 2.5,
        };
        const int tokens = 5;
        const double alpha = 0.7;
        var rng = new Random(5);
        var p = new MoeParameters<double>(config);
        foreach (var (_, values) in p.Tensors())
            for (var i = 0; i < values.Length; i++) values[i] = rng.NextDouble() - 0.5;
        float[]? bias = method == TopKMethod.NoAuxTc ? Enumerable.Range(0, 8).Select(_ => (float)(rng.NextDouble() * 0.2 - 0.1)).ToArray() : null;
        var x = Enumerable.Range(0, tokens * 6).Select(_ => rng.NextDouble() * 4 - 2).ToArray();
        var layer = new MoeLayer<double>(config, tokens, alpha);
        double Loss()
        {
            layer.Forward(p, x, bias, new double[x.Length]);
            return layer.BalanceLoss;
        }
        var loss = Loss();
        var load = layer.Load.ToArray();

        // Definition: α Σ_i f_i P_i with f_i = N/(K·T)·load_i and P_i the mean normalised score.
        var expected = 0.0;
        for (var i = 0; i < 8; i++)
        {
            var pi = 0.0;
            for (var t = 0; t < tokens; t++)
            {
                var l = Enumerable.Range(0, 8).Select(e => Enumerable.Range(0, 6).Sum(d => x[t * 6 + d] * p.Router[e * 6 + d])).ToArray();
                var s = scoring == ScoringFunction.Sigmoid ? l.Select(v => 1 / (1 + Math.Exp(-v))).ToArray() : l.Select(Math.Exp).ToArray();
                pi += s[i] / s.Sum() / tokens;
            }
            expected += 8.0 / (2 * tokens) * load[i] * pi;
        }
        Assert.Equal(alpha * expected, loss, 12);

        // Gradient of the balance loss alone (dy = 0): into the router and the input.
        var grads = new MoeParameters<double>(config);
        var dx = new double[x.Length];
        layer.Backward(p, new double[x.Length], grads, dx, 1.0);
        Assert.Contains(grads.Router, v => Math.Abs(v) > 1e-4);
        void Check(double[] values, double[] analytic, string what)
        {
            for (var i = 0; i < values.Length; i++)
            {
                var keep = values[i];
                values[i] = keep + 1e-6;
                var up = Loss();
                Assert.Equal(load, layer.Load);
                values[i] = keep - 1e-6;
                var down = Loss();
                Assert.Equal(load, layer.Load);
                values[i] = keep;
                Assert.Equal((up - down) / 2e-6, analytic[i], 7);
            }
        }
        Check(p.Router, grads.Router, "router");
        Check(x, dx, "x");
        Assert.All(grads.Experts.SelectMany(e => e.Tensors()).SelectMany(t => t.Values), v => Assert.Equal(0.0, v));
    }

    [Fact]
    public void Zero_alpha_changes_nothing()
    {
        var config = TinyMoeWithMtp();
        var p = Random(config, 3);
        var a = ModelParameters<double>.ZerosLike(p);
        var b = ModelParameters<double>.ZerosLike(p);
        var la = new TrainableModel<double>(p, 7).ForwardBackward(Batch, a, 0.3);
        var lb = new TrainableModel<double>(p, 7, balanceLossAlpha: 0).ForwardBackward(Batch, b, 0.3);
        Assert.Equal(0.0, lb.Balance);
        Assert.Equal(la.Main + 0.3 * la.Mtp, lb.Total);   // bit for bit: the total is exactly the former L_main + λ·L_mtp
        Assert.Equal(la, lb);
        foreach (var ((name, x), (_, y)) in a.Tensors().Zip(b.Tensors()))
            Assert.True(x.AsSpan().SequenceEqual(y), name);

        // A layer with α = 0 is exactly the layer without the loss.
        var moe = new MoeParameters<double>(config);
        var rng = new Random(2);
        foreach (var (_, values) in moe.Tensors()) for (var i = 0; i < values.Length; i++) values[i] = rng.NextDouble() - 0.5;
        var input = Enumerable.Range(0, 4 * 8).Select(_ => rng.NextDouble() - 0.5).ToArray();
        var dy = Enumerable.Range(0, 4 * 8).Select(_ => rng.NextDouble() - 0.5).ToArray();
        double[] Run(MoeLayer<double> layer, MoeParameters<double> g)
        {
            layer.Forward(moe, input, new float[8], new double[input.Length]);
            var dx = new double[input.Length];
            layer.Backward(moe, dy, g, dx, 1.0);
            return dx;
        }
        var (g0, g1) = (new MoeParameters<double>(config), new MoeParameters<double>(config));
        Assert.Equal(Run(new MoeLayer<double>(config, 4), g0), Run(new MoeLayer<double>(config, 4, 0.0), g1));
        Assert.Equal(g0.Router, g1.Router);
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(0.5)]
    public void Recomputation_gives_bit_identical_losses_gradients_and_loads(double alpha)
    {
        var config = TinyMoeWithMtp(layers: 4);   // one dense and three MoE layers share two block trainers
        var pd = Random(config, 6);
        var p = ModelParameters<float>.ZerosLike(ModelParameters<float>.Zeros(config, true));
        foreach (var ((_, src), (_, dst)) in pd.Tensors().Zip(p.Tensors()))
            for (var i = 0; i < src.Length; i++) dst[i] = (float)src[i];
        for (var l = 0; l < p.RouterBias.Length; l++) if (pd.RouterBias[l] is { } bias) bias.CopyTo(p.RouterBias[l]!, 0);

        var kept = new TrainableModel<float>(p, 7, alpha);
        var recomputed = new TrainableModel<float>(p, 7, alpha, recomputeActivations: true);
        Assert.True(recomputed.RecomputeActivations);
        var masked = new[] { new TrainingSequence(Batch[0], [false, true, true, true, true, true]), new TrainingSequence(Batch[1]) };
        for (var round = 0; round < 2; round++)   // twice: state left by one batch must not leak into the next
        {
            var ga = ModelParameters<float>.ZerosLike(p);
            var gb = ModelParameters<float>.ZerosLike(p);
            var la = kept.ForwardBackward(masked, ga, 0.3f);
            var lb = recomputed.ForwardBackward(masked, gb, 0.3f);
            Assert.Equal(la, lb);
            Assert.True(la.Mtp > 0);
            if (alpha > 0) Assert.True(la.Balance > 0);
            foreach (var ((name, x), (_, y)) in ga.Tensors().Zip(gb.Tensors()))
                Assert.True(x.AsSpan().SequenceEqual(y), name);
            Assert.Contains(ga["model.layers.1.mlp.gate.weight"], v => v != 0);
            for (var l = 0; l < kept.ExpertLoad.Length; l++) Assert.Equal(kept.ExpertLoad[l], recomputed.ExpertLoad[l]);

            var wa = kept.ForwardBackwardWeighted(masked, ModelParameters<float>.ZerosLike(p), 0.5f, out var lpa);
            var wb = recomputed.ForwardBackwardWeighted(masked, ModelParameters<float>.ZerosLike(p), 0.5f, out var lpb);
            Assert.Equal(wa, wb);
            Assert.Equal(lpa, lpb);
            foreach (var (name, values) in p.Tensors()) for (var i = 0; i < values.Length; i += 7) values[i] *= 0.99f;   // next round: other weights
        }
    }

    [Fact]
    public void Sft_options_reach_the_model_and_recomputation_reproduces_the_run()
    {
        ModelParameters<float> Fresh()
        {
            using var checkpoint = Checkpoint.Open(RepoPaths.TestData("models", "tiny-v3"));
            return ModelParameters<float>.Load(WeightMap.Bind(checkpoint));
        }
        var rng = new Random(4);
        var data = Enumerable.Range(0, 4).Select(_ => new TrainingSequence(Enumerable.Range(0, 12).Select(_ => rng.Next(2, 256)).ToArray())).ToList();
        SftOptions Options(double alpha, bool recompute) => new()
        {
            Steps = 3, BatchSize = 2, LearningRate = 3e-3, MtpWeight = 0.3, BiasUpdateSpeed = 0.01f, BalanceLossAlpha = alpha, RecomputeActivations = recompute,
        };
        var plain = new SftTrainer(Fresh(), 12, Options(0, false)).Train(data);
        var recomputed = new SftTrainer(Fresh(), 12, Options(0, true)).Train(data);
        Assert.Equal(plain.Select(r => r.Loss), recomputed.Select(r => r.Loss));
        Assert.Equal(plain.Select(r => r.GradNorm), recomputed.Select(r => r.GradNorm));
        var balanced = new SftTrainer(Fresh(), 12, Options(0.1, true)).Train(data);
        Assert.True(balanced[0].Loss > plain[0].Loss);                 // the balance loss is part of the reported loss
        Assert.Equal(plain[0].MainLoss, balanced[0].MainLoss);         // and the first step's cross-entropy is unchanged
        Assert.Throws<ArgumentOutOfRangeException>(() => new SftOptions { BalanceLossAlpha = -1 }.Validate());
    }
}
