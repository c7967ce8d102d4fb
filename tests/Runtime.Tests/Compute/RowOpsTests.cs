using DeepSeek.Runtime.Compute.Cpu;

namespace DeepSeek.Runtime.Tests.Compute;

/// <summary>The vectorised element-wise row kernels against their scalar definitions, over every length 0..257.</summary>
public sealed class RowOpsTests
{
    private static float[] Values(int n, int seed, float scale = 4f)
    {
        var rng = new Random(seed);
        return [.. Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1) * scale)];
    }

    [Fact]
    public void Sum_of_squares_matches_a_sequential_double_sum()
    {
        for (var n = 0; n <= 257; n++)
        {
            var x = Values(n, n);
            double expected = 0;
            foreach (var v in x) expected += (double)v * v;
            Assert.Equal(expected, RowOps.SumOfSquares(x), 1e-12 * Math.Max(1, expected));
        }
    }

    [Fact]
    public void Scale_times_is_exactly_two_rounded_multiplies()
    {
        for (var n = 0; n <= 257; n++)
        {
            var (x, w) = (Values(n, n), Values(n, n + 1000));
            var s = 0.37f;
            var output = new float[n];
            RowOps.ScaleTimes(x, s, w, output);
            for (var i = 0; i < n; i++) Assert.Equal(x[i] * s * w[i], output[i]);
        }
    }

    [Fact]
    public void SwiGlu_matches_the_scalar_formula_within_a_few_ulps_and_may_run_in_place()
    {
        for (var n = 0; n <= 257; n++)
        {
            var (gate, up) = (Values(n, n, 12f), Values(n, n + 1000));
            var output = new float[n];
            RowOps.SwiGlu(gate, up, output);
            for (var i = 0; i < n; i++)
            {
                var z = gate[i];
                var expected = z / (1f + MathF.Exp(-z)) * up[i];
                Assert.True(Ulps(output[i], expected) <= 4, $"n={n} i={i}: {output[i]} vs {expected}");
            }
            var inPlace = (float[])gate.Clone();
            RowOps.SwiGlu(inPlace, up, inPlace);
            Assert.Equal(output, inPlace);
        }
    }

    [Fact]
    public void SwiGlu_saturates_like_the_scalar_formula()
    {
        float[] gate = [.. Enumerable.Repeat(-200f, 8), .. Enumerable.Repeat(200f, 8), 0f, -0f, float.NaN, 88f];
        var up = Enumerable.Repeat(1.5f, gate.Length).ToArray();
        var output = new float[gate.Length];
        RowOps.SwiGlu(gate, up, output);
        for (var i = 0; i < gate.Length; i++)
        {
            var z = gate[i];
            var expected = z / (1f + MathF.Exp(-z)) * up[i];
            if (float.IsNaN(expected)) Assert.True(float.IsNaN(output[i]), $"i={i}: {output[i]}");
            else Assert.True(Ulps(output[i], expected) <= 4, $"i={i}: {output[i]} vs {expected}");
        }
    }

    /// <summary>Distance in units in the last place (both finite, or equal).</summary>
    private static long Ulps(float a, float b)
    {
        if (a == b) return 0;
        static long Ordered(float f) { var bits = BitConverter.SingleToInt32Bits(f); return bits < 0 ? int.MinValue - (long)bits : bits; }
        return Math.Abs(Ordered(a) - Ordered(b));
    }
}
