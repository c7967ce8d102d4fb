using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Compute;
using DeepSeek.Runtime.Compute.Cpu;
using DeepSeek.Runtime.Tensors;

namespace DeepSeek.Runtime.Tests.Compute;

/// <summary>
/// Speculative greedy decoding is only identical to plain decoding if a token's values do not depend on which other
/// rows share its forward pass or on how the op was split over threads: the kernels must sum each output in one fixed order.
/// </summary>
public sealed class CpuBatchInvarianceTests : IDisposable
{
    private readonly MappedWeights _weights = new();

    public void Dispose() => _weights.Dispose();

    private const int Fp8Block = 32;

    private static float[] Random(int n, int seed) => MappedWeights.Random(n, seed);

    private WeightTensor Weight(float[] values, int rows, int cols, DType dtype) => _weights.Write(values, rows, cols, dtype, Fp8Block);

    private static float[] MatMul(CpuBackend backend, WeightTensor weight, float[] x, int tokens) =>
        MappedWeights.MatMul(backend, backend.Bind(weight), x, tokens);

    [Theory]
    [InlineData(DType.F32, 5, 203, 257)]    // 260K multiply-adds: split over the pool
    [InlineData(DType.BF16, 7, 130, 300)]
    [InlineData(DType.F8_E4M3, 5, 70, 300)] // 32-wide scale blocks, a partial last one
    [InlineData(DType.F32, 2, 17, 15)]      // tiny: inline, tails only
    [InlineData(DType.BF16, 8, 33, 257)]    // a batched decode step: streamed rows, an odd last weight row
    [InlineData(DType.BF16, 9, 64, 100)]    // past the streamed row count
    [InlineData(DType.F8_E4M3, 3, 71, 129)]
    [InlineData(DType.F8_E4M3, 8, 40, 96)]
    public void MatMul_rows_do_not_depend_on_the_batch_or_the_threads(DType dtype, int tokens, int outputs, int inputs)
    {
        var weight = Weight(Random(outputs * inputs, 1), outputs, inputs, dtype);
        var x = Random(tokens * inputs, 2);
        using var two = new CpuBackend(threads: 2);
        using var one = new CpuBackend(threads: 1);

        var batched = MatMul(two, weight, x, tokens);
        Assert.Equal(batched, MatMul(one, weight, x, tokens));
        for (var t = 0; t < tokens; t++)
        {
            var single = MatMul(one, weight, x.AsSpan(t * inputs, inputs).ToArray(), 1);
            Assert.Equal(single, batched.AsSpan(t * outputs, outputs).ToArray());
        }
    }

    [Fact]
    public void Dot4_computes_each_lane_exactly_as_Dot_and_close_to_the_exact_sum()
    {
        Span<float> r = stackalloc float[4];
        for (var n = 0; n <= 257; n++)
        {
            var x = Random(n, n);
            var w = Enumerable.Range(0, 4).Select(k => Random(n, 1000 + 4 * n + k)).ToArray();
            RowDot.Dot4(x, w[0], w[1], w[2], w[3], r);
            for (var k = 0; k < 4; k++)
            {
                Assert.Equal(RowDot.Dot(x, w[k]), r[k]);
                double exact = 0;
                for (var i = 0; i < n; i++) exact += (double)x[i] * w[k][i];
                Assert.True(Math.Abs(r[k] - exact) <= 1e-5 * (1 + n), $"n={n}: {r[k]} vs {exact}");
            }
        }
    }

    [Fact]
    public void DotBf16_is_Dot_of_the_decoded_row_bit_for_bit()
    {
        for (var n = 0; n <= 257; n++)
        {
            var x = Random(n, n);
            var bits = Random(n, 5000 + n).Select(BFloat16Codec.FromSingle).ToArray();
            var decoded = new float[n];
            BFloat16Codec.ToSingle(bits, decoded);
            Assert.Equal(RowDot.Dot(x, decoded), RowDot.DotBf16(x, bits));
        }
    }

    [Fact]
    public void DotFp8_is_Dot_of_the_decoded_scaled_row_bit_for_bit()
    {
        // With NaN codes, and without (the block path that skips the NaN select and only notes NaN codes).
        foreach (var finite in new[] { false, true })
        foreach (var blockCols in new[] { 16, 32, 128 })
            for (var n = 0; n <= 257; n++)
            {
                var x = Random(n, n);
                var rng = new Random(n + blockCols);
                var codes = new byte[n];
                rng.NextBytes(codes);   // every code: zeros, subnormals, normals, ±448, NaN
                if (finite)
                    for (var i = 0; i < n; i++)
                        if ((codes[i] & 0x7F) == 0x7F) codes[i] ^= 1;
                var scales = Random((n + blockCols - 1) / blockCols, 7 * n + 1).Select(v => MathF.Abs(v) + 1e-3f).ToArray();
                var decoded = new float[n];
                Float8E4M3Codec.ToSingle(codes, decoded);
                for (var i = 0; i < n; i++) decoded[i] *= scales[i / blockCols];
                var scales2p120 = scales.Select(v => MathF.ScaleB(v, 120)).ToArray();
                Assert.Equal(RowDot.Dot(x, decoded), RowDot.DotFp8(x, codes, scales2p120, blockCols));
            }
    }

    [Fact]
    public void Bf16Rows_computes_every_token_and_weight_row_pair_exactly_as_Dot_of_the_decoded_row()
    {
        var r = new float[2 * 9];
        for (var n = 0; n <= 257; n++)
        {
            var stride = n + 3;   // rows not packed, as in a column slice
            var x = Random(9 * stride, n);
            var bits = Enumerable.Range(0, 2).Select(k => Random(n, 5000 + 2 * n + k).Select(BFloat16Codec.FromSingle).ToArray()).ToArray();
            var decoded = bits.Select(b => { var d = new float[n]; BFloat16Codec.ToSingle(b, d); return d; }).ToArray();
            for (var rows = 1; rows <= 9; rows++)
            {
                Array.Fill(r, float.NaN);
                RowDot.Bf16Rows(x.AsSpan(0, (rows - 1) * stride + n), stride, rows, bits[0], bits[1], r);
                for (var t = 0; t < rows; t++)
                    for (var k = 0; k < 2; k++)
                        Assert.Equal(RowDot.Dot(x.AsSpan(t * stride, n), decoded[k]), r[2 * t + k]);
            }
        }
    }

    [Fact]
    public void Fp8Rows_computes_every_pair_exactly_as_Dot_of_the_decoded_scaled_row_NaN_codes_and_subnormals_included()
    {
        var r = new float[2 * 9];
        foreach (var blockCols in new[] { 16, 32, 128 })
            for (var n = 0; n <= 257; n++)
            {
                var stride = n + 1;
                var x = Random(9 * stride, n);
                var rng = new Random(n + blockCols);
                var codes = new byte[2][];
                var scales = new float[2][];
                var decoded = new float[2][];
                for (var k = 0; k < 2; k++)
                {
                    codes[k] = new byte[n];
                    rng.NextBytes(codes[k]);   // every code: zeros, subnormals, normals, ±448, NaN
                    if (n > 3) (codes[k][0], codes[k][1], codes[k][2], codes[k][3]) = (0x7F, 0xFF, 0x01, 0x87);   // NaNs, ± subnormals
                    scales[k] = Random((n + blockCols - 1) / blockCols, 7 * n + k).Select(v => MathF.Abs(v) + 1e-3f).ToArray();
                    decoded[k] = new float[n];
                    Float8E4M3Codec.ToSingle(codes[k], decoded[k]);
                    for (var i = 0; i < n; i++) decoded[k][i] *= scales[k][i / blockCols];
                }
                var s0 = scales[0].Select(v => MathF.ScaleB(v, 120)).ToArray();
                var s1 = scales[1].Select(v => MathF.ScaleB(v, 120)).ToArray();
                for (var rows = 1; rows <= 9; rows++)
                {
                    Array.Fill(r, 12345f);
                    RowDot.Fp8Rows(x.AsSpan(0, (rows - 1) * stride + n), stride, rows, codes[0], s0, codes[1], s1, blockCols, r);
                    for (var t = 0; t < rows; t++)
                        for (var k = 0; k < 2; k++)
                            Assert.Equal(RowDot.Dot(x.AsSpan(t * stride, n), decoded[k]), r[2 * t + k]);
                }
            }
    }

    [Fact]
    public void Dot4x2_computes_each_pair_exactly_as_Dot()
    {
        Span<float> r = stackalloc float[8];
        for (var n = 0; n <= 130; n++)
        {
            var x0 = Random(n, n);
            var x1 = Random(n, 7000 + n);
            var w = Enumerable.Range(0, 4).Select(k => Random(n, 1000 + 4 * n + k)).ToArray();
            RowDot.Dot4x2(x0, x1, w[0], w[1], w[2], w[3], r);
            for (var k = 0; k < 4; k++)
            {
                Assert.Equal(RowDot.Dot(x0, w[k]), r[k]);
                Assert.Equal(RowDot.Dot(x1, w[k]), r[4 + k]);
            }
        }
    }

    [Fact]
    public void Columns_gives_each_output_one_fma_chain_whatever_the_pairing_or_the_range()
    {
        foreach (var (k, n) in new[] { (64, 384), (17, 45), (3, 8), (32, 71) })
        {
            var wt = Random(k * n, k + n);
            var x0 = Random(k, 1);
            var x1 = Random(k, 2);
            var pair0 = new float[n];
            var pair1 = new float[n];
            RowDot.Columns(x0, x1, two: true, wt, n, 0, n, pair0, pair1);
            var lone = new float[n];
            // Odd split points: vector blocks in one call are scalar tails in another.
            RowDot.Columns(x1, x1, two: false, wt, n, 0, n / 3, lone, lone);
            RowDot.Columns(x1, x1, two: false, wt, n, n / 3, n, lone, lone);
            Assert.Equal(pair1, lone);
            for (var j = 0; j < n; j++)
            {
                var s = 0f;
                for (var i = 0; i < k; i++) s = MathF.FusedMultiplyAdd(x0[i], wt[i * n + j], s);
                Assert.Equal(s, pair0[j]);
            }
        }
    }

    [Fact]
    public void AddScaledBf16_and_AddScaledFp8_are_AddScaled_of_the_decoded_row_bit_for_bit()
    {
        foreach (var blockCols in new[] { 16, 128 })
            for (var n = 0; n <= 257; n++)
            {
                var bits = Random(n, 300 + n).Select(BFloat16Codec.FromSingle).ToArray();
                var decoded = new float[n];
                BFloat16Codec.ToSingle(bits, decoded);
                var (expected, actual) = (Random(n, 600 + n), Random(n, 600 + n));
                RowDot.AddScaled(decoded, -0.71f, expected);
                RowDot.AddScaledBf16(bits, -0.71f, actual);
                Assert.Equal(expected, actual);

                var codes = new byte[n];
                new Random(n).NextBytes(codes);   // NaN codes, subnormals, zeros included
                var scales = Random((n + blockCols - 1) / blockCols, n + 11).Select(v => MathF.Abs(v) + 1e-3f).ToArray();
                Float8E4M3Codec.ToSingle(codes, decoded);
                for (var i = 0; i < n; i++) decoded[i] *= scales[i / blockCols];
                (expected, actual) = (Random(n, 900 + n), Random(n, 900 + n));
                RowDot.AddScaled(decoded, 1.37f, expected);
                RowDot.AddScaledFp8(codes, scales.Select(v => MathF.ScaleB(v, 120)).ToArray(), blockCols, 1.37f, actual);
                Assert.Equal(expected, actual);
            }
    }

    [Fact]
    public void WeightedSum_and_WeightedSum2_are_AddScaled_row_after_row_bit_for_bit()
    {
        foreach (var width in new[] { 0, 1, 15, 16, 17, 32, 40, 63, 64, 65, 130, 512 })
            foreach (var (n0, n1) in new[] { (1, 1), (1, 2), (5, 3), (7, 7), (20, 33) })
            {
                var stride = width + 9;
                var rows = Random(Math.Max(n0, n1) * stride, width + n0);
                var (p0, p1) = (Random(n0, 3 * width + n1), Random(n1, 5 * width + n0));
                float[] Expected(float[] p)
                {
                    var acc = new float[width];
                    for (var j = 0; j < p.Length; j++) RowDot.AddScaled(rows.AsSpan(j * stride, width), p[j], acc);
                    return acc;
                }
                var (o0, o1, alone) = (new float[width], new float[width], new float[width]);
                Array.Fill(o0, float.NaN);
                RowDot.WeightedSum2(p0, p1, rows, stride, o0, o1);
                RowDot.WeightedSum(p0, rows, stride, alone);
                Assert.Equal(Expected(p0), o0);
                Assert.Equal(Expected(p1), o1);
                Assert.Equal(Expected(p0), alone);

                // Block after block (as MLA attention walks the cache), a block past one vector's end included.
                var (b0, b1) = (new float[width], new float[width]);
                for (var j0 = 0; j0 < Math.Max(n0, n1); j0 += 3)
                {
                    var j1 = Math.Min(j0 + 3, Math.Max(n0, n1));
                    RowDot.WeightedSum2(p0.AsSpan(Math.Min(j0, n0), Math.Min(j1, n0) - Math.Min(j0, n0)),
                        p1.AsSpan(Math.Min(j0, n1), Math.Min(j1, n1) - Math.Min(j0, n1)),
                        rows.AsSpan(j0 * stride), stride, b0, b1, accumulate: j0 > 0);
                }
                Assert.Equal(Expected(p0), b0);
                Assert.Equal(Expected(p1), b1);
            }
    }

    [Fact]
    public void WeightedSumBf16_is_AddScaledBf16_row_after_row_bit_for_bit()
    {
        foreach (var width in new[] { 0, 1, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 512 })
            foreach (var n in new[] { 1, 2, 5, 20 })
            {
                var stride = width + 7;
                var rows = Random(n * stride, width + n).Select(v => BFloat16Codec.FromSingle(v * 3)).ToArray();
                var p = Random(n, 11 * width + n);
                var expected = new float[width];
                for (var i = 0; i < n; i++) RowDot.AddScaledBf16(rows.AsSpan(i * stride, width), p[i], expected);
                var got = Enumerable.Repeat(float.NaN, width).ToArray();
                RowDot.WeightedSumBf16(p, rows, stride, got);
                Assert.Equal(expected, got);
            }
    }

    [Fact]
    public void AddScaled_is_a_fused_multiply_add_per_element()
    {
        for (var n = 0; n <= 70; n++)
        {
            var v = Random(n, n);
            var acc = Random(n, 500 + n);
            var expected = acc.Select((a, i) => MathF.FusedMultiplyAdd(v[i], 0.37f, a)).ToArray();
            RowDot.AddScaled(v, 0.37f, acc);
            Assert.Equal(expected, acc);
        }
    }
}
