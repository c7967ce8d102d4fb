using DeepSeek.Runtime.Generation;

namespace DeepSeek.Runtime.Tests.Generation;

/// <summary>The rejection rule on its own: the verified token must be distributed exactly as p, whatever q is.</summary>
public sealed class SpeculativeSamplingTests
{
    /// <summary>
    /// P(out = x) = Σ_d q(d)·[P(accept d)·δ(x, d) + P(reject d)·residual(x)], integrated over both uniforms on a grid of
    /// N midpoints (a quadrature of the real function, no randomness): exact up to the grid's 1/N resolution per draw.
    /// </summary>
    private static double[] OutputDistribution(float[] p, float[] q, int grid)
    {
        var result = new double[p.Length];
        for (var d = 0; d < q.Length; d++)
        {
            if (q[d] == 0) continue;
            for (var a = 0; a < grid; a++)
            {
                var ua = (a + 0.5) / grid;
                var x = SpeculativeSampling.Verify(p, q, d, ua, 0.5, out var accepted);
                if (accepted)
                {
                    Assert.Equal(d, x);
                    result[d] += q[d] / grid;
                    continue;
                }
                for (var r = 0; r < grid; r++)
                    result[SpeculativeSampling.Verify(p, q, d, ua, (r + 0.5) / grid, out _)] += q[d] / grid / grid;
            }
        }
        return result;
    }

    private static float[] RandomDistribution(Random rng, int n, double zeroChance)
    {
        var v = new float[n];
        for (var i = 0; i < n; i++) v[i] = rng.NextDouble() < zeroChance ? 0f : (float)Math.Pow(rng.NextDouble(), 3);
        if (v.Sum() == 0) v[rng.Next(n)] = 1f;
        var sum = v.Sum();
        for (var i = 0; i < n; i++) v[i] /= sum;
        return v;
    }

    [Fact]
    public void Verified_tokens_are_distributed_as_the_target_for_any_draft_distribution()
    {
        var rng = new Random(12345);
        const int grid = 400;
        for (var trial = 0; trial < 60; trial++)
        {
            var n = 2 + rng.Next(7);
            // Zeros on either side: drafts the target forbids, and target mass the draft never proposes.
            var p = RandomDistribution(rng, n, trial % 3 == 0 ? 0.3 : 0);
            var q = RandomDistribution(rng, n, trial % 2 == 0 ? 0.3 : 0);
            var output = OutputDistribution(p, q, grid);
            for (var x = 0; x < n; x++)
                Assert.True(Math.Abs(output[x] - p[x]) <= 2.0 / grid, $"trial {trial}, token {x}: {output[x]:F5} vs p {p[x]:F5} (q {q[x]:F5})");
        }
    }

    [Fact]
    public void A_draft_the_target_favours_more_is_always_kept_and_one_it_forbids_never()
    {
        float[] p = [0.5f, 0.5f, 0f];
        float[] q = [0.25f, 0.5f, 0.25f];
        for (var u = 0.0; u < 1; u += 0.01)
        {
            Assert.Equal(0, SpeculativeSampling.Verify(p, q, 0, u, 0.3, out var keep0));
            Assert.True(keep0);
            Assert.NotEqual(2, SpeculativeSampling.Verify(p, q, 2, u, u, out var keep2));
            Assert.False(keep2);
        }
        // p(1) = q(1): kept with probability 1 as well.
        Assert.True(SpeculativeSampling.Accepts(0.5f, 0.5f, 0.999999));
        // Acceptance is min(1, p/q): 0.2/0.8 = 0.25.
        Assert.True(SpeculativeSampling.Accepts(0.2f, 0.8f, 0.2499));
        Assert.False(SpeculativeSampling.Accepts(0.2f, 0.8f, 0.2501));
    }

    [Fact]
    public void The_residual_is_normalised_max_of_p_minus_q()
    {
        float[] p = [0.1f, 0.6f, 0.3f, 0f];
        float[] q = [0.4f, 0.2f, 0.1f, 0.3f];
        Assert.Equal(0.6, SpeculativeSampling.ResidualMass(p, q), 6);
        // Residual (0, 0.4, 0.2, 0)/0.6: the first two thirds of [0, 1) pick id 1, the rest id 2.
        Assert.Equal(1, SpeculativeSampling.SampleResidual(p, q, 0.0));
        Assert.Equal(1, SpeculativeSampling.SampleResidual(p, q, 0.66));
        Assert.Equal(2, SpeculativeSampling.SampleResidual(p, q, 0.67));
        Assert.Equal(2, SpeculativeSampling.SampleResidual(p, q, 0.999999));
        // p = q: no residual mass, so a (rounding-only) rejection draws from p itself.
        Assert.Equal(0.0, SpeculativeSampling.ResidualMass(p, p));
        Assert.Equal(1, SpeculativeSampling.SampleResidual(p, p, 0.5));
    }

    [Fact]
    public void Bad_arguments_are_rejected()
    {
        Assert.Throws<ArgumentException>(() => SpeculativeSampling.Verify([0.5f, 0.5f], [1f], 0, 0.5, 0.5, out _));
        Assert.Throws<ArgumentOutOfRangeException>(() => SpeculativeSampling.Verify([0.5f, 0.5f], [0.5f, 0.5f], 2, 0.5, 0.5, out _));
        Assert.Throws<InvalidOperationException>(() => SpeculativeSampling.SampleFrom([0f, 0f], 0.5));
    }
}
