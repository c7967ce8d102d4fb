using DeepSeek.Runtime.Compute.Cpu;

namespace DeepSeek.Runtime.Tests.Compute;

/// <summary>
/// <see cref="PackedGemm"/> against a float64 product: every tile shape (4×32, 4×16, the 1–3 row tail, partial vectors),
/// A read through strides (transposed), accumulation, the causal ranges, and nothing written past a row's n columns.
/// </summary>
public sealed class PackedGemmTests
{
    private const float Sentinel = 12345f;

    public static TheoryData<int, int, int> Shapes()
    {
        var data = new TheoryData<int, int, int>();
        foreach (var m in new[] { 1, 2, 3, 4, 5, 7, 8, 9, 13 })
            foreach (var n in new[] { 1, 5, 15, 16, 17, 31, 32, 33, 48, 70 })
                foreach (var k in new[] { 0, 1, 3, 16, 37 })
                    data.Add(m, n, k);
        return data;
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Matches_a_float64_product_for_every_tile_shape_and_stride(int m, int n, int k)
    {
        if (!PackedGemm.IsSupported) return;   // the training ops keep their scalar path there
        var rng = new Random(m * 1000 + n * 10 + k);
        foreach (var transposed in new[] { false, true })
            foreach (var accumulate in new[] { false, true })
            {
                // A [m, k] stored row-major, or as its transpose [k, m] read with (rowStride 1, colStride m).
                var a = Values(rng, m * k);
                var (rs, cs) = transposed ? (1, m) : (k, 1);
                double A(int i, int j) => a[i * rs + j * cs];
                var b = Values(rng, k * n);
                var panel = new float[Math.Max(1, k * PackedGemm.PanelWidth(n))];
                PackedGemm.Pack(b, rowStride: n, colStride: 1, k, n, panel);
                var ldc = n + 3;
                var c = Values(rng, m * ldc);
                for (var i = 0; i < m; i++) c.AsSpan(i * ldc + n, 3).Fill(Sentinel);
                var before = (float[])c.Clone();
                PackedGemm.Multiply(a, rs, cs, panel, c, ldc, m, n, k, accumulate);
                for (var i = 0; i < m; i++)
                {
                    for (var j = 0; j < n; j++)
                    {
                        double want = accumulate ? before[i * ldc + j] : 0, scale = Math.Abs(want);
                        for (var p = 0; p < k; p++)
                        {
                            want += A(i, p) * b[p * n + j];
                            scale += Math.Abs(A(i, p) * b[p * n + j]);
                        }
                        Assert.True(Math.Abs(c[i * ldc + j] - want) <= 1e-6 * scale + 1e-30,
                            $"C[{i},{j}] = {c[i * ldc + j]} vs {want} (transposed {transposed}, accumulate {accumulate})");
                    }
                    Assert.All(c.AsSpan(i * ldc + n, 3).ToArray(), v => Assert.Equal(Sentinel, v));
                }
            }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    [InlineData(6)]
    [InlineData(17)]
    [InlineData(40)]
    public void Causal_ranges_give_the_full_product_of_triangular_operands(int t)
    {
        if (!PackedGemm.IsSupported) return;
        var rng = new Random(t);
        var b = Values(rng, t * 24);
        var panel = new float[t * PackedGemm.PanelWidth(24)];
        PackedGemm.Pack(b, 24, 1, t, 24, panel);
        // Lower-triangular A (zero past each row's index) through KThroughRow; its transpose through KFromRow.
        var lower = Values(rng, t * t);
        for (var i = 0; i < t; i++) lower.AsSpan(i * t + i + 1, t - i - 1).Clear();
        var full = new float[t * 24];
        PackedGemm.Multiply(lower, t, 1, panel, full, 24, t, 24, t, accumulate: false);
        var causal = new float[t * 24];
        PackedGemm.Multiply(lower, t, 1, panel, causal, 24, t, 24, t, accumulate: false, PackedGemm.Causal.KThroughRow);
        Assert.Equal(full, causal);
        PackedGemm.Multiply(lower, 1, t, panel, full, 24, t, 24, t, accumulate: false);
        PackedGemm.Multiply(lower, 1, t, panel, causal, 24, t, 24, t, accumulate: false, PackedGemm.Causal.KFromRow);
        Assert.Equal(full, causal);

        // NThroughRow: every entry on or below the diagonal equals the full product's; nothing past n is touched.
        var q = Values(rng, t * 8);
        var kt = Values(rng, 8 * t);
        var kPanel = new float[8 * PackedGemm.PanelWidth(t)];
        PackedGemm.Pack(kt, t, 1, 8, t, kPanel);
        var s = new float[t * t];
        var sc = Enumerable.Repeat(Sentinel, t * t).ToArray();
        PackedGemm.Multiply(q, 8, 1, kPanel, s, t, t, t, 8, accumulate: false);
        PackedGemm.Multiply(q, 8, 1, kPanel, sc, t, t, t, 8, accumulate: false, PackedGemm.Causal.NThroughRow);
        for (var i = 0; i < t; i++)
            for (var j = 0; j <= i; j++) Assert.Equal(s[i * t + j], sc[i * t + j]);
    }

    private static float[] Values(Random rng, int n) => Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
}
