using DeepSeek.Runtime.Generation;

namespace DeepSeek.Runtime.Tests.Generation;

public class SamplerFilterTests
{
    /// <summary>The ids that survive every filter, read from the sampler itself.</summary>
    private static int[] Support(SamplingOptions options, float[] logits)
    {
        var s = new Sampler(options with { Seed = 1 }, logits.Length);
        var ids = new List<int>();
        foreach (var c in s.Filter((float[])logits.Clone()))
            ids.Add(c.Id);
        ids.Sort();
        return [.. ids];
    }

    /// <summary>The ids actually drawn over many samples; agrees with <see cref="Support"/> when every survivor is likely enough.</summary>
    private static int[] Drawn(SamplingOptions options, float[] logits)
    {
        int[] counts = SamplerTests.Histogram(options with { Seed = 2 }, logits, 4000);
        return [.. Enumerable.Range(0, logits.Length).Where(i => counts[i] > 0)];
    }

    private static float[] Log(params double[] p) => [.. p.Select(x => (float)Math.Log(x))];

    [Theory]
    [InlineData(1, new[] { 4 })]
    [InlineData(2, new[] { 4, 6 })]
    [InlineData(3, new[] { 1, 4, 6 })]
    [InlineData(5, new[] { 0, 1, 4, 5, 6 })]
    [InlineData(8, new[] { 0, 1, 2, 3, 4, 5, 6, 7 })]
    public void TopK_keeps_exactly_the_k_largest(int k, int[] expected)
    {
        float[] logits = [0.2f, 2f, -0.5f, -1f, 3f, 0.1f, 2.5f, -2f];
        var options = new SamplingOptions { TopK = k };
        Assert.Equal(expected, Support(options, logits));
        Assert.Equal(expected, Drawn(options, logits));
    }

    [Fact]
    public void TopK_keeps_ties_with_the_kth_value_like_HF()
    {
        Assert.Equal([0, 1, 2], Support(new SamplingOptions { TopK = 2 }, [5f, 3f, 3f, 1f]));
    }

    [Fact]
    public void TopK_ignores_NaN_and_negative_infinity()
    {
        float[] logits = [float.NaN, 1f, float.NegativeInfinity, 0f, float.NaN];
        Assert.Equal([1, 3], Support(new SamplingOptions { TopK = 4 }, logits));
        Assert.Equal([1], Support(new SamplingOptions { TopK = 1 }, logits));
    }

    // Probabilities, most to least likely: 1 (0.4), 3 (0.3), 4 (0.15), 0 (0.1), 2 (0.05).
    [Theory]
    [InlineData(0.35, new[] { 1 })]
    [InlineData(0.4 - 1e-4, new[] { 1 })]
    [InlineData(0.4 + 1e-4, new[] { 1, 3 })]
    [InlineData(0.65, new[] { 1, 3 })]
    [InlineData(0.75, new[] { 1, 3, 4 })]
    [InlineData(0.9, new[] { 0, 1, 3, 4 })]
    [InlineData(0.96, new[] { 0, 1, 2, 3, 4 })]
    [InlineData(1.0, new[] { 0, 1, 2, 3, 4 })]
    public void TopP_keeps_the_smallest_prefix_reaching_p_including_the_crossing_token(double topP, int[] expected)
    {
        float[] logits = Log(0.1, 0.4, 0.05, 0.3, 0.15);
        var options = new SamplingOptions { TopP = topP };
        Assert.Equal(expected, Support(options, logits));
        Assert.Equal(expected, Drawn(options, logits));
    }

    [Fact]
    public void TopP_applies_to_the_temperature_scaled_distribution()
    {
        // At T = 0.5 the probabilities ∝ p²: 0.16, 0.09, 0.0225, 0.01, 0.0025 → 0.16/0.2850 = 0.561 alone reaches 0.55.
        float[] logits = Log(0.1, 0.4, 0.05, 0.3, 0.15);
        Assert.Equal([1], Support(new SamplingOptions { TopP = 0.55, Temperature = 0.5 }, logits));
        Assert.Equal([1, 3], Support(new SamplingOptions { TopP = 0.55, Temperature = 1 }, logits));
    }

    [Fact]
    public void TopP_renormalizes_over_the_top_k_survivors()
    {
        // After top-2, probabilities are 0.4/0.7 = 0.571 and 0.429: 0.55 is crossed by the first token alone.
        // Without renormalization (0.4 < 0.55) the second would stay too.
        float[] logits = Log(0.4, 0.3, 0.2, 0.1);
        Assert.Equal([0], Support(new SamplingOptions { TopK = 2, TopP = 0.55 }, logits));
        Assert.Equal([0, 1], Support(new SamplingOptions { TopK = 0, TopP = 0.55 }, logits));
    }

    [Fact]
    public void TopP_on_a_large_flat_tail_matches_a_full_sort()
    {
        // A realistic shape: a few strong tokens over a long tail. Reference: sort everything, walk the prefix.
        var rng = new Random(3);
        float[] logits = [.. Enumerable.Range(0, 20_000).Select(i => i % 997 == 0 ? 8f + (float)rng.NextDouble() : (float)rng.NextDouble() * 4)];
        foreach (double p in new[] { 0.3, 0.8, 0.95, 0.999 })
        {
            double[] probs = SamplerTests.Softmax(logits, 1.0);
            int[] order = [.. Enumerable.Range(0, logits.Length).OrderByDescending(i => probs[i]).ThenBy(i => i)];
            var expected = new List<int>();
            double before = 0;
            foreach (int i in order)
            {
                if (before >= p)
                    break;
                expected.Add(i);
                before += probs[i];
            }
            expected.Sort();
            Assert.Equal(expected, Support(new SamplingOptions { TopP = p }, logits));
        }
    }

    // Probabilities 0.5, 0.2, 0.1, 0.04, 0.16.
    [Theory]
    [InlineData(0.25, new[] { 0, 1, 4 })]        // drops p < 0.125
    [InlineData(0.15, new[] { 0, 1, 2, 4 })]     // drops p < 0.075
    [InlineData(0.7, new[] { 0 })]
    [InlineData(0.0, new[] { 0, 1, 2, 3, 4 })]
    public void MinP_removes_tokens_below_min_p_times_the_top_probability(double minP, int[] expected)
    {
        float[] logits = Log(0.5, 0.2, 0.1, 0.04, 0.16);
        var options = new SamplingOptions { MinP = minP };
        Assert.Equal(expected, Support(options, logits));
        Assert.Equal(expected, Drawn(options, logits));
    }

    [Fact]
    public void Weights_are_softmax_of_logits_over_temperature()
    {
        float[] logits = [1f, 2f, 0.5f];
        var s = new Sampler(new SamplingOptions { Temperature = 0.5 }, 3);
        var c = s.Filter((float[])logits.Clone()).ToArray();
        double z = c.Sum(x => (double)x.Weight);
        double[] expected = SamplerTests.Softmax(logits, 0.5);
        foreach (var x in c)
            Assert.Equal(expected[x.Id], x.Weight / z, 6);
    }

    [Fact]
    public void A_vanishing_temperature_keeps_only_the_top_tokens()
    {
        // 1/T overflows float: the top tokens must keep weight 1 rather than become 0·∞ = NaN.
        float[] logits = [1f, 3f, 2.999f, 3f];
        var c = new Sampler(new SamplingOptions { Temperature = 1e-50 }, 4).Filter(logits).ToArray();
        Assert.Equal([0f, 1f, 0f, 1f], c.Select(x => x.Weight));
        Assert.Equal([1, 3], Drawn(new SamplingOptions { Temperature = 1e-50 }, logits));
    }

    [Fact]
    public void NucleusSize_agrees_with_sorting_including_ties()
    {
        var rng = new Random(5);
        for (int trial = 0; trial < 1000; trial++)
        {
            int n = rng.Next(1, 40);
            // Few distinct weights so that ties straddle the boundary; ties go to the lower id.
            var c = Enumerable.Range(0, n).Select(i => new Sampler.Candidate { Id = i, Weight = rng.Next(1, 5) / 4f }).ToArray();
            double z = c.Sum(x => (double)x.Weight);
            double limit = rng.NextDouble() * z;
            var order = c.OrderByDescending(x => x.Weight).ThenBy(x => x.Id).ToArray();
            var expected = new List<int>();
            double before = 0;
            foreach (var x in order)
            {
                if (before >= limit && expected.Count > 0)
                    break;
                expected.Add(x.Id);
                before += x.Weight;
            }
            var shuffled = c.OrderBy(_ => rng.Next()).ToArray();
            int keep = Sampler.NucleusSize(shuffled, limit);
            Assert.Equal(expected.Order(), shuffled.Take(keep).Select(x => x.Id).Order());
        }
    }

    [Fact]
    public void KthLargest_agrees_with_sorting()
    {
        var rng = new Random(11);
        for (int trial = 0; trial < 500; trial++)
        {
            int n = rng.Next(1, 60);
            // Few distinct values, so ties and runs of equal values are common.
            float[] a = [.. Enumerable.Range(0, n).Select(_ => (float)rng.Next(-3, 4))];
            if (trial % 5 == 0)
                a[rng.Next(n)] = float.NegativeInfinity;
            float[] sorted = [.. a.OrderDescending()];
            int k = rng.Next(1, n + 1);
            Assert.Equal(sorted[k - 1], Sampler.KthLargest((float[])a.Clone(), k));
        }
    }
}
