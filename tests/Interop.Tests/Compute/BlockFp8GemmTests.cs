using DeepSeek.Runtime.Compute.Cpu;
using DeepSeek.Runtime.Tensors;

namespace DeepSeek.Interop.Tests.Compute;

/// <summary>The CPU twin of the GPU's block-scaled FP8 GEMM: exact cases by hand, bounded error against fp32.</summary>
public class BlockFp8GemmTests
{
    [Fact]
    public void Activation_tiles_are_scaled_by_their_amax_over_448()
    {
        // Row 0: tile 0 has amax 448 (scale 1: codes are the values), tile 1 amax 224 (scale 0.5), tile 2 is all zero.
        var x = new float[300];
        x[0] = 448; x[1] = -1; x[2] = 0.5f;
        x[128] = 224; x[129] = 3;
        var codes = new byte[300];
        var scales = new float[3];
        BlockFp8Gemm.QuantizeActivations(x, 1, 300, codes, scales);
        Assert.Equal([1f, 0.5f, 1f], scales);
        Assert.Equal(Float8E4M3Codec.MaxCode, codes[0]);
        Assert.Equal(-1f, Float8E4M3Codec.ToSingle(codes[1]));
        Assert.Equal(0.5f, Float8E4M3Codec.ToSingle(codes[2]));
        Assert.Equal(448f, Float8E4M3Codec.ToSingle(codes[128]));
        Assert.Equal(6f, Float8E4M3Codec.ToSingle(codes[129]));   // 3 / 0.5
        Assert.All(codes[256..], c => Assert.Equal(0, c));
    }

    [Fact]
    public void Quantised_activations_are_within_half_an_e4m3_step_of_the_input()
    {
        var rng = new Random(3);
        int m = 5, k = 333;
        var x = Enumerable.Range(0, m * k).Select(_ => (float)(rng.NextDouble() * 2 - 1) * 10).ToArray();
        var codes = new byte[m * k];
        var scales = new float[m * BlockFp8Gemm.KBlocks(k)];
        BlockFp8Gemm.QuantizeActivations(x, m, k, codes, scales);
        for (var r = 0; r < m; r++)
            for (var c = 0; c < k; c++)
            {
                var s = scales[r * BlockFp8Gemm.KBlocks(k) + c / 128];
                var back = Float8E4M3Codec.ToSingle(codes[r * k + c]) * s;
                // 3 mantissa bits: relative error ≤ 2^-4 for normals; subnormals (|x/s| < 2^-6) within 2^-10·s.
                Assert.True(MathF.Abs(back - x[r * k + c]) <= MathF.Max(MathF.Abs(x[r * k + c]) / 16, s / 1024) * 1.0001f, $"({r},{c}): {x[r * k + c]} → {back}");
            }
    }

    [Fact]
    public void A_hand_computed_case_is_exact_and_promotes_once_per_128_of_k()
    {
        // K = 256: two blocks. A's tiles have scales 1 and 0.5, B's single 128×128 block row has scales 0.25 and 2.
        int k = 256;
        var a = new byte[k];
        var b = new byte[2 * k];          // n = 2
        a[0] = Float8E4M3Codec.FromSingle(3);     a[5] = Float8E4M3Codec.FromSingle(-2);
        a[130] = Float8E4M3Codec.FromSingle(8);
        b[0] = Float8E4M3Codec.FromSingle(4);     b[5] = Float8E4M3Codec.FromSingle(1);    b[130] = Float8E4M3Codec.FromSingle(0.5f);
        b[k + 5] = Float8E4M3Codec.FromSingle(-16); b[k + 130] = Float8E4M3Codec.FromSingle(448);
        var c = new float[2];
        BlockFp8Gemm.Gemm(a, [1f, 0.5f], 1, k, b, [0.25f, 2f], 2, c);
        // n0: block 0 partial 3·4 + (−2)·1 = 10, × (1·0.25) = 2.5; block 1 partial 8·0.5 = 4, × (0.5·2) = 4 → 6.5
        // n1: block 0 partial (−2)(−16) = 32 × 0.25 = 8; block 1 partial 8·448 = 3584 × 1 = 3584 → 3592
        Assert.Equal([6.5f, 3592f], c);
    }

    [Fact]
    public void Weight_scales_follow_128_row_blocks_of_n()
    {
        int n = 130, k = 1;
        var a = new[] { Float8E4M3Codec.FromSingle(1) };
        var b = Enumerable.Repeat(Float8E4M3Codec.FromSingle(2), n).ToArray();
        var c = new float[n];
        BlockFp8Gemm.Gemm(a, [1f], 1, k, b, [10f, 100f], n, c);
        Assert.All(c[..128], v => Assert.Equal(20f, v));
        Assert.All(c[128..], v => Assert.Equal(200f, v));
    }

    [Theory]
    [InlineData(1, 1, 1)]
    [InlineData(3, 130, 200)]
    [InlineData(17, 256, 384)]
    [InlineData(64, 96, 129)]
    public void Matches_the_dequantised_fp32_gemm_to_rounding(int m, int n, int k)
    {
        var rng = new Random(m * 1000 + n + k);
        var (aCodes, aScales, aDeq) = RandomActivations(rng, m, k);
        var (bCodes, bScales, bDeq) = RandomWeight(rng, n, k);
        var c = new float[m * n];
        BlockFp8Gemm.Gemm(aCodes, aScales, m, k, bCodes, bScales, n, c);
        for (var i = 0; i < m; i++)
            for (var j = 0; j < n; j++)
            {
                double exact = 0, magnitude = 0;
                for (var t = 0; t < k; t++)
                {
                    exact += (double)aDeq[i * k + t] * bDeq[j * k + t];
                    magnitude += Math.Abs((double)aDeq[i * k + t] * bDeq[j * k + t]);
                }
                // fp32 partial sums (≤ 128 terms) and one promotion per block: error ≤ ~K·2^-24 of Σ|a·b|.
                Assert.True(Math.Abs(c[i * n + j] - exact) <= 2e-7 * (k + 4) * magnitude + 1e-30, $"({i},{j}): {c[i * n + j]} vs {exact}");
            }
    }

    [Fact]
    public void Against_the_unquantised_fp32_gemm_the_error_is_the_e4m3_rounding_bound()
    {
        var rng = new Random(11);
        int m = 8, n = 64, k = 512;
        var x = Enumerable.Range(0, m * k).Select(_ => (float)Gaussian(rng)).ToArray();
        var w = Enumerable.Range(0, n * k).Select(_ => (float)Gaussian(rng) * 0.05f).ToArray();
        var wCodes = new byte[n * k];
        var wScales = new float[BlockFp8Gemm.KBlocks(n) * BlockFp8Gemm.KBlocks(k)];
        BlockFp8.Quantize(w, n, k, wCodes, wScales);
        var y = new float[m * n];
        BlockFp8Gemm.Linear(x, m, k, wCodes, wScales, n, y);
        double meanRelative = 0;
        for (var i = 0; i < m; i++)
            for (var j = 0; j < n; j++)
            {
                double exact = 0, magnitude = 0;
                for (var t = 0; t < k; t++)
                {
                    exact += (double)x[i * k + t] * w[j * k + t];
                    magnitude += Math.Abs((double)x[i * k + t] * w[j * k + t]);
                }
                var error = Math.Abs(y[i * n + j] - exact);
                // Each factor is within 2^-4 relative (normals; subnormals are tiny next to the tile amax): (1 + 2^-4)² − 1 < 0.13.
                Assert.True(error <= 0.13 * magnitude, $"({i},{j}): error {error} over bound {0.13 * magnitude}");
                meanRelative += error / magnitude;
            }
        // Rounding errors of random sign cancel: typically ~0.4 % of Σ|x·w| at K = 512.
        Assert.True(meanRelative / (m * n) < 0.01, $"mean relative error {meanRelative / (m * n)}");
    }

    [Fact]
    public void Grouped_gemm_is_each_group_through_its_own_expert()
    {
        var rng = new Random(5);
        int k = 200, n = 70;
        int[] offsets = [0, 3, 3, 10];     // the middle expert has no tokens
        var (a, aScales, _) = RandomActivations(rng, 10, k);
        var weights = Enumerable.Range(0, 3).Select(_ => RandomWeight(rng, n, k)).ToArray();
        var b = weights.SelectMany(w => w.Codes).ToArray();
        var bScales = weights.SelectMany(w => w.Scales).ToArray();
        var grouped = new float[10 * n];
        BlockFp8Gemm.GroupedGemm(a, aScales, offsets, k, b, bScales, n, grouped);
        var kb = BlockFp8Gemm.KBlocks(k);
        for (var g = 0; g < 3; g++)
        {
            int first = offsets[g], rows = offsets[g + 1] - first;
            var dense = new float[rows * n];
            BlockFp8Gemm.Gemm(a.AsSpan(first * k, rows * k), aScales.AsSpan(first * kb, rows * kb), rows, k, weights[g].Codes, weights[g].Scales, n, dense);
            Assert.Equal(dense, grouped.AsSpan(first * n, rows * n).ToArray());
        }
    }

    [Fact]
    public void Short_buffers_are_argument_errors_naming_the_buffer()
    {
        var e = Assert.Throws<ArgumentException>(() => BlockFp8Gemm.Gemm(new byte[3], new float[1], 1, 4, new byte[4], new float[1], 1, new float[1]));
        Assert.Equal("a", e.ParamName);
        Assert.Throws<ArgumentException>(() => BlockFp8Gemm.GroupedGemm(new byte[4], new float[1], [1, 2], 4, new byte[4], new float[1], 1, new float[1]));
    }

    [Fact]
    public void Another_summation_order_inside_each_block_stays_within_the_reordering_bound()
    {
        var rng = new Random(7);
        int m = 5, n = 130, k = 300, kb = BlockFp8Gemm.KBlocks(k);
        var (a, sa, _) = RandomActivations(rng, m, k);
        var (b, sb, _) = RandomWeight(rng, n, k);
        var twin = new float[m * n];
        BlockFp8Gemm.Gemm(a, sa, m, k, b, sb, n, twin);
        var bound = BlockFp8Gemm.ReorderingBound(a, sa, m, k, b, sb, n);
        var moved = 0;
        for (var i = 0; i < m; i++)
            for (var j = 0; j < n; j++)
            {
                var acc = 0f;
                for (var blk = 0; blk < kb; blk++)
                {
                    var partial = 0f;   // reversed k order inside the block, as another accumulator might
                    for (var kk = Math.Min(k, (blk + 1) * 128) - 1; kk >= blk * 128; kk--)
                        partial = MathF.FusedMultiplyAdd(Float8E4M3Codec.ToSingle(a[i * k + kk]), Float8E4M3Codec.ToSingle(b[j * k + kk]), partial);
                    acc = MathF.FusedMultiplyAdd(partial, sa[i * kb + blk] * sb[j / 128 * kb + blk], acc);
                }
                Assert.True(Math.Abs(acc - twin[i * n + j]) <= bound[i * n + j], $"c[{i}, {j}]: {acc} vs {twin[i * n + j]}, bound {bound[i * n + j]}");
                if (acc != twin[i * n + j]) moved++;
            }
        Assert.True(moved > 0, "the reordering changed nothing, so this test bounds nothing");
        // Not vacuous: far below the outputs' size (4·128·2⁻²⁴ ≈ 3e-5 of Σ|terms|).
        Assert.True(bound.Max() < 1e-3 * twin.Max(MathF.Abs), $"bound {bound.Max()} vs outputs up to {twin.Max(MathF.Abs)}");
    }

    internal static (byte[] Codes, float[] Scales, float[] Dequantised) RandomActivations(Random rng, int m, int k)
    {
        var x = Enumerable.Range(0, m * k).Select(_ => (float)Gaussian(rng) * 3).ToArray();
        var codes = new byte[m * k];
        var scales = new float[m * BlockFp8Gemm.KBlocks(k)];
        BlockFp8Gemm.QuantizeActivations(x, m, k, codes, scales);
        var deq = new float[m * k];
        for (var i = 0; i < m * k; i++) deq[i] = Float8E4M3Codec.ToSingle(codes[i]) * scales[i / k * BlockFp8Gemm.KBlocks(k) + i % k / 128];
        return (codes, scales, deq);
    }

    internal static (byte[] Codes, float[] Scales, float[] Dequantised) RandomWeight(Random rng, int n, int k)
    {
        var w = Enumerable.Range(0, n * k).Select(_ => (float)Gaussian(rng) * 0.02f).ToArray();
        var codes = new byte[n * k];
        var scales = new float[BlockFp8Gemm.KBlocks(n) * BlockFp8Gemm.KBlocks(k)];
        BlockFp8.Quantize(w, n, k, codes, scales);
        var deq = new float[n * k];
        BlockFp8.Dequantize(codes, n, k, scales, deq);
        return (codes, scales, deq);
    }

    internal static double Gaussian(Random rng) => Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
}
