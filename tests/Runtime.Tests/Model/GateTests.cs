using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Model;
using DeepSeek.Runtime.Tests.Checkpoints;

namespace DeepSeek.Runtime.Tests.Model;

/// <summary>Expert selection on hand-made router logits, each expectation worked out by hand from MODEL.md.</summary>
public class GateTests
{
    private static ModelConfig Config(TopKMethod method, ScoringFunction scoring, int groups, int keep, int k, bool norm, double scale) =>
        ModelConfig.Parse(ConfigFixtures.TinyV3) with
        {
            TopKMethod = method, ScoringFunc = scoring, NGroup = groups, TopKGroup = keep, NumExpertsPerTok = k,
            NormTopKProb = norm, RoutedScalingFactor = scale,
        };

    private static (int[] Ids, float[] Weights) Route(Gate gate, float[] logits, int k)
    {
        var ids = new int[k];
        var weights = new float[k];
        gate.Route(logits, 1, ids, weights);
        return (ids, weights);
    }

    [Fact]
    public void Greedy_softmax_takes_the_plain_top_k_and_scales()
    {
        var gate = new Gate(Config(TopKMethod.Greedy, ScoringFunction.Softmax, 1, 1, 2, norm: false, scale: 16), null);
        float[] logits = [0, 3, 1, 0, 2, 0, 0, 0];
        var (ids, weights) = Route(gate, logits, 2);
        Assert.Equal([1, 4], ids);
        var z = logits.Sum(l => Math.Exp(l));
        Assert.Equal(16 * Math.Exp(3) / z, weights[0], 5);
        Assert.Equal(16 * Math.Exp(2) / z, weights[1], 5);
    }

    [Fact]
    public void Group_limited_greedy_scores_groups_by_their_max()
    {
        // 4 groups of 2: maxes 2.0 (g0), 2.5 (g1), 2.9 (g2), 1.0 (g3); keep 2 ⇒ g1, g2. The global top-2 (experts 0
        // and 4) would pick expert 0 from the dropped group g0.
        var gate = new Gate(Config(TopKMethod.GroupLimitedGreedy, ScoringFunction.Softmax, 4, 2, 2, norm: false, scale: 1), null);
        float[] logits = [2.0f, 1.9f, 2.5f, 0.0f, 2.9f, 1.95f, 1.0f, 0.5f];
        var (ids, _) = Route(gate, logits, 2);
        Assert.Equal([4, 2], ids);
    }

    [Fact]
    public void Noaux_tc_uses_the_bias_to_choose_but_not_to_weigh()
    {
        // Sigmoid scores s; the bias lifts expert 7 (group 3) and sinks expert 0 (group 0).
        float[] logits = [2.0f, 0.5f, 1.0f, 1.2f, -1.0f, -0.5f, 0.0f, 0.1f];
        float[] bias = [-1.0f, 0, 0, 0, 0, 0, 0, 0.9f];
        var gate = new Gate(Config(TopKMethod.NoAuxTc, ScoringFunction.Sigmoid, 4, 2, 2, norm: true, scale: 2.5), bias);
        var s = logits.Select(l => 1 / (1 + Math.Exp(-l))).ToArray();
        var c = s.Select((v, i) => v + bias[i]).ToArray();
        // Group score = sum of both (top-2) biased scores: g0 = c0+c1, g1 = c2+c3, g2 = c4+c5, g3 = c6+c7.
        var groups = new[] { c[0] + c[1], c[2] + c[3], c[4] + c[5], c[6] + c[7] };
        Assert.True(groups[3] > groups[1] && groups[1] > groups[2] && groups[2] > groups[0]); // keep g3 and g1
        var (ids, weights) = Route(gate, logits, 2);
        // Among experts 2, 3, 6, 7 by biased score: c7 = s(0.1)+0.9 ≈ 1.425 > c3 = s(1.2) ≈ 0.769 > c2 ≈ 0.731 > c6 = 0.5.
        Assert.Equal([7, 3], ids);
        var sum = s[7] + s[3];
        Assert.Equal(2.5 * s[7] / sum, weights[0], 5);   // unbiased scores, normalised, scaled
        Assert.Equal(2.5 * s[3] / sum, weights[1], 5);
    }

    [Fact]
    public void Masked_groups_lose_even_with_negative_biased_scores()
    {
        // Every biased score is negative: a 0.0 fill (as HF writes it) would pick a dropped expert; −∞ must not.
        float[] logits = [0, 0, 0, 0, 0, 0, 0, 0];
        float[] bias = [-0.6f, -0.6f, -0.9f, -0.9f, -0.7f, -0.7f, -2f, -2f];
        var gate = new Gate(Config(TopKMethod.NoAuxTc, ScoringFunction.Sigmoid, 4, 2, 2, norm: true, scale: 1), bias);
        var (ids, _) = Route(gate, logits, 2);
        Assert.All(ids, id => Assert.True(id is 0 or 1 or 4 or 5, $"expert {id} is in a dropped group"));
    }

    [Fact]
    public void Noaux_tc_requires_the_bias()
    {
        var config = Config(TopKMethod.NoAuxTc, ScoringFunction.Sigmoid, 4, 2, 2, true, 1);
        Assert.Throws<ArgumentException>(() => new Gate(config, null));
        Assert.Throws<ArgumentException>(() => new Gate(config, new float[3]));
    }
}
