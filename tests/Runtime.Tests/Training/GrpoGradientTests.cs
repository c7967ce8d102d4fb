using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Tests.Checkpoints;
using DeepSeek.Runtime.Training;

namespace DeepSeek.Runtime.Tests.Training;

/// <summary>The per-token weighted log-likelihood gradient GRPO builds on, against finite differences in float64.</summary>
public class GrpoGradientTests
{
    private static ModelParameters<double> Tiny(bool deepSeek, int seed)
    {
        var config = deepSeek
            ? ModelConfig.Parse(ConfigFixtures.TinyV3) with
            {
                VocabSize = 16, HiddenSize = 8, IntermediateSize = 12, MoeIntermediateSize = 4, NumHiddenLayers = 2, FirstKDenseReplace = 1,
                NumAttentionHeads = 2, NumKeyValueHeads = 2, QLoraRank = 6, KvLoraRank = 5, QkNopeHeadDim = 4, QkRopeHeadDim = 2, VHeadDim = 3,
                NRoutedExperts = 8, NSharedExperts = 1, NumExpertsPerTok = 2, NGroup = 4, TopKGroup = 2, NumNextNPredictLayers = 1,
                BosTokenId = 0, EosTokenIds = [1],
            }
            : ModelConfig.Parse(ConfigFixtures.R1DistillQwen) with
            {
                VocabSize = 16, HiddenSize = 8, IntermediateSize = 12, NumHiddenLayers = 2, NumAttentionHeads = 4, NumKeyValueHeads = 2, HeadDim = 2,
                BosTokenId = 0, EosTokenIds = [1],
            };
        var rng = new Random(seed);
        var p = ModelParameters<double>.Zeros(config);
        foreach (var (name, values) in p.Tensors())
            for (var i = 0; i < values.Length; i++)
                values[i] = name.Contains("norm", StringComparison.Ordinal) ? 1 + 0.2 * (rng.NextDouble() - 0.5) : (rng.NextDouble() - 0.5) * 0.8;
        return p;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Weighted_log_likelihood_gradient_matches_finite_differences(bool deepSeek)
    {
        var p = Tiny(deepSeek, deepSeek ? 11 : 12);
        var batch = new[]
        {
            new TrainingSequence([0, 5, 9, 3, 14, 2, 7], [false, false, true, true, true, true], [0f, 0f, 0.7f, -1.3f, 0.25f, 2f]),
            new TrainingSequence([0, 11, 4, 4, 8, 15, 6], [false, true, true, false, true, true], [9f, -0.5f, 1.5f, 9f, 0.3f, -0.8f]),
        };
        const double scale = -0.37;
        var model = new TrainableModel<double>(p, 7);
        double Objective() => model.ForwardBackwardWeighted(batch, ModelParameters<double>.ZerosLike(p), scale, out _);

        var grads = ModelParameters<double>.ZerosLike(p);
        var objective = model.ForwardBackwardWeighted(batch, grads, scale, out var logProbs);

        // The objective and the log-probabilities agree with the forward-only pass.
        var expected = 0.0;
        for (var b = 0; b < batch.Length; b++)
        {
            var lp = model.TokenLogProbs(batch[b]);
            Assert.Equal(6, lp.Length);
            for (var t = 0; t < 6; t++)
            {
                Assert.Equal(lp[t], logProbs[b][t], 12);
                if (batch[b].Counts(t)) Assert.True(lp[t] < 0);
                else Assert.Equal(0, lp[t]);
                expected += scale * batch[b].Weight(t) * -lp[t];
            }
        }
        Assert.Equal(expected, objective, 12);

        var rng = new Random(5);
        var analytic = grads.Tensors().ToDictionary(t => t.Name, t => t.Values);
        foreach (var (name, values) in p.Tensors())
        {
            if (name.Contains("layers.2.", StringComparison.Ordinal)) { Assert.All(analytic[name], v => Assert.Equal(0, v)); continue; }   // MTP is not part of it
            FiniteDifferences.AssertGradient(name, values, analytic[name], Objective, FiniteDifferences.Sample(values.Length, rng));
        }
        Assert.Contains(analytic["model.embed_tokens.weight"], v => Math.Abs(v) > 1e-4);
    }

    [Fact]
    public void Unit_weights_with_mean_scale_reproduce_the_cross_entropy_gradient()
    {
        var p = Tiny(false, 3);
        var batch = new[] { new TrainingSequence([0, 5, 9, 3, 14, 2], [false, true, true, true, false]), new TrainingSequence([0, 11, 4, 4, 8, 15]) };
        var model = new TrainableModel<double>(p, 6);
        var ce = ModelParameters<double>.ZerosLike(p);
        var loss = model.ForwardBackward(batch, ce, 0);
        var weighted = ModelParameters<double>.ZerosLike(p);
        var counted = batch.Sum(s => s.CountedPositions);
        var objective = model.ForwardBackwardWeighted(batch, weighted, 1.0 / counted, out _);
        Assert.Equal(loss.Main, objective, 12);
        foreach (var ((name, a), (_, b)) in ce.Tensors().Zip(weighted.Tensors()))
            for (var i = 0; i < a.Length; i++) Assert.True(Math.Abs(a[i] - b[i]) < 1e-12, $"{name}[{i}]");
    }

    [Fact]
    public void Weights_computed_from_the_current_log_probs_are_used()
    {
        var p = Tiny(false, 4);
        var s = new TrainingSequence([0, 5, 9, 3, 14]);
        var model = new TrainableModel<double>(p, 5);
        var seen = Array.Empty<double>();
        var g1 = ModelParameters<double>.ZerosLike(p);
        model.ForwardBackwardWeighted([s], g1, 1.0, (b, lp) => { seen = lp; return lp.Select(v => 2 * v).ToArray(); }, out _);
        Assert.Equal(model.TokenLogProbs(s), seen);
        var g2 = ModelParameters<double>.ZerosLike(p);
        model.ForwardBackwardWeighted([s with { Weights = seen.Select(v => (float)(2 * v)).ToArray() }], g2, 1.0, out _);
        Assert.Equal(g1["lm_head.weight"][3], g2["lm_head.weight"][3], 5);
    }
}
