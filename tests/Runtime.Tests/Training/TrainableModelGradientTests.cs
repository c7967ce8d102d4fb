using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Tests.Checkpoints;
using DeepSeek.Runtime.Training;

namespace DeepSeek.Runtime.Tests.Training;

/// <summary>Whole-model gradients (main + λ·MTP loss) against finite differences in float64, sampled on every tensor.</summary>
public class TrainableModelGradientTests
{
    private static ModelConfig TinyMoeWithMtp() => ModelConfig.Parse(ConfigFixtures.TinyV3) with
    {
        VocabSize = 16, HiddenSize = 8, IntermediateSize = 12, MoeIntermediateSize = 4, NumHiddenLayers = 2, FirstKDenseReplace = 1,
        NumAttentionHeads = 2, NumKeyValueHeads = 2, QLoraRank = 6, KvLoraRank = 5, QkNopeHeadDim = 4, QkRopeHeadDim = 2, VHeadDim = 3,
        NRoutedExperts = 8, NSharedExperts = 1, NumExpertsPerTok = 2, NGroup = 4, TopKGroup = 2, NumNextNPredictLayers = 1,
        BosTokenId = 0, EosTokenIds = [1],
    };

    private static ModelConfig TinyQwen2() => ModelConfig.Parse(ConfigFixtures.R1DistillQwen) with
    {
        VocabSize = 16, HiddenSize = 8, IntermediateSize = 12, NumHiddenLayers = 2, NumAttentionHeads = 4, NumKeyValueHeads = 2, HeadDim = 2,
        BosTokenId = 0, EosTokenIds = [1],
    };

    [Theory]
    [InlineData(true, true)]
    [InlineData(true, false)]
    [InlineData(false, false)]
    public void Sampled_gradients_of_every_tensor_match_finite_differences(bool deepSeek, bool mtpCopies)
    {
        var config = deepSeek ? TinyMoeWithMtp() : TinyQwen2();
        var rng = new Random(deepSeek ? 3 : 4);
        var p = ModelParameters<double>.Zeros(config, mtpCopies);
        foreach (var (name, values) in p.Tensors())
            for (var i = 0; i < values.Length; i++)
                values[i] = name.EndsWith("norm.weight", StringComparison.Ordinal) || name.EndsWith("layernorm.weight", StringComparison.Ordinal)
                    ? 1 + 0.2 * (rng.NextDouble() - 0.5) : (rng.NextDouble() - 0.5) * 0.8;
        foreach (var bias in p.RouterBias) if (bias is not null) for (var e = 0; e < bias.Length; e++) bias[e] = (float)(rng.NextDouble() * 0.2 - 0.1);
        var batch = new[] { new[] { 0, 5, 9, 3, 14, 2, 7 }, new[] { 0, 11, 4, 4, 8, 15, 6 } };
        const double lambda = 0.3;

        var model = new TrainableModel<double>(p, 7);
        double Loss() => model.ForwardBackward(batch, ModelParameters<double>.ZerosLike(p), lambda).Total;
        var grads = ModelParameters<double>.ZerosLike(p);
        var loss = model.ForwardBackward(batch, grads, lambda);
        Assert.Equal(loss.Main + lambda * loss.Mtp, loss.Total, 12);
        if (deepSeek) Assert.True(loss.Mtp > 0);
        var loads = model.ExpertLoad.Select(l => l?.ToArray()).ToArray();

        var analytic = grads.Tensors().ToDictionary(t => t.Name, t => t.Values);
        foreach (var (name, values) in p.Tensors())
        {
            // A few elements of every tensor (all of the small ones).
            FiniteDifferences.AssertGradient(name, values, analytic[name], Loss, FiniteDifferences.Sample(values.Length, rng),
                () => { for (var l = 0; l < loads.Length; l++) Assert.Equal(loads[l], model.ExpertLoad[l]); });   // the nudge kept every choice
        }
        Assert.Contains(analytic["model.embed_tokens.weight"], v => Math.Abs(v) > 1e-4);
        if (deepSeek) Assert.Contains(analytic["model.layers.2.eh_proj.weight"], v => Math.Abs(v) > 1e-4);
    }
}

public class MaskedLossTests
{
    [Fact]
    public void Masked_batch_loss_is_the_mean_over_counted_positions_and_its_gradient_checks()
    {
        var config = ModelConfig.Parse(ConfigFixtures.R1DistillQwen) with
        {
            VocabSize = 16, HiddenSize = 8, IntermediateSize = 12, NumHiddenLayers = 1, NumAttentionHeads = 2, NumKeyValueHeads = 1, HeadDim = 4,
            BosTokenId = 0, EosTokenIds = [1],
        };
        var rng = new Random(8);
        var p = ModelParameters<double>.Zeros(config);
        foreach (var (name, values) in p.Tensors())
            for (var i = 0; i < values.Length; i++) values[i] = name.Contains("norm", StringComparison.Ordinal) ? 1 : rng.NextDouble() - 0.5;
        int[] a = [0, 5, 9, 3, 14, 2], b = [0, 11, 4, 4, 8, 15];
        var masked = new[] { new TrainingSequence(a, [false, false, true, true, true]), new TrainingSequence(b, [false, true, false, false, false]) };
        var model = new TrainableModel<double>(p, 6);

        // Reference value: per-position losses from unmasked single-position masks, averaged over the 4 counted rows.
        double Single(int[] tokens, int position)
        {
            var mask = new bool[5];
            mask[position] = true;
            return model.ForwardBackward([new TrainingSequence(tokens, mask)], ModelParameters<double>.ZerosLike(p), 0).Main;
        }
        var expected = (Single(a, 2) + Single(a, 3) + Single(a, 4) + Single(b, 1)) / 4;
        var grads = ModelParameters<double>.ZerosLike(p);
        var loss = model.ForwardBackward(masked, grads, 0);
        Assert.Equal(expected, loss.Main, 12);

        var w = p["model.layers.0.self_attn.q_proj.weight"];
        for (var i = 0; i < w.Length; i += 5)
        {
            var keep = w[i];
            w[i] = keep + 1e-6;
            var up = model.ForwardBackward(masked, ModelParameters<double>.ZerosLike(p), 0).Main;
            w[i] = keep - 1e-6;
            var down = model.ForwardBackward(masked, ModelParameters<double>.ZerosLike(p), 0).Main;
            w[i] = keep;
            Assert.Equal((up - down) / 2e-6, grads["model.layers.0.self_attn.q_proj.weight"][i], 6);
        }
    }
}
