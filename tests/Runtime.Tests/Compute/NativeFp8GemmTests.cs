using DeepSeek.Runtime.Compute.Cpu;
using DeepSeek.Runtime.Tensors;

namespace DeepSeek.Runtime.Tests.Compute;

/// <summary>A fact that skips, saying why, where the native FP8 GEMM is unavailable (no library, no avx512bf16/avx512vbmi).</summary>
public sealed class NativeFp8FactAttribute : FactAttribute
{
    public NativeFp8FactAttribute()
    {
        if (!NativeCpuKernels.Fp8Available) Skip = $"native FP8 GEMM unavailable: {NativeCpuKernels.Status}";
    }
}

/// <summary>
/// The native block-scaled FP8 GEMM against a scalar reference (exact E4M3 decode × block scale, bf16-rounded activations,
/// double sums) over every E4M3 code — zeros, ± subnormals, normals, ±448, NaN — token counts 0..20 and larger, odd N
/// and K (partial scale blocks, past the 2048-wide K chunk), 32/64/128-wide blocks and column ranges; and the backend's
/// use of it at every row count with each row independent of the batch.
/// </summary>
public sealed class NativeFp8GemmTests : IDisposable
{
    private readonly MappedWeights _weights = new();

    public void Dispose() => _weights.Dispose();

    /// <summary>Random codes (every byte value; NaN codes only in row <paramref name="nanRow"/>, if any) and block scales.</summary>
    private (CpuWeight Weight, double[] Decoded) Fp8Weight(int rows, int cols, int block, int seed, int nanRow = -1)
    {
        var rng = new Random(seed);
        var codes = new byte[rows * cols];
        rng.NextBytes(codes);
        for (var i = 0; i < codes.Length; i++)
            if ((codes[i] & 0x7F) == 0x7F && i / Math.Max(1, cols) != nanRow) codes[i] ^= 0x01;   // NaN → ±416 elsewhere
        if (nanRow >= 0 && cols > 0) codes[nanRow * cols + cols / 2] = 0xFF;
        var gridCols = (cols + block - 1) / block;
        var scales = MappedWeights.Random(((rows + block - 1) / block) * gridCols, seed + 1).Select(v => MathF.Abs(v) * 0.01f + 1e-4f).ToArray();
        var decoded = new float[codes.Length];
        Float8E4M3Codec.ToSingle(codes, decoded);
        var exact = new double[codes.Length];
        for (var i = 0; i < codes.Length; i++)
        {
            var (r, c) = (i / cols, i % cols);
            exact[i] = (double)decoded[i] * scales[(r / block) * gridCols + c / block];
        }
        var w = new CpuWeight(_weights.WriteFp8Codes(codes, rows, cols, scales, block));
        Assert.True(NativeCpuKernels.SupportsFp8(w));
        return (w, exact);
    }

    /// <summary>
    /// o[t, j0..j1) against Σ_k bf16(x[t, k])·w[j, k] in double. Each fp32 block sum rounds with relative error ≤ 2^-24 per
    /// addition, and each block adds two more roundings (scale, total): within (K + 16 + 2·blocks)·2^-24·Σ|terms|.
    /// </summary>
    private static void AssertGemm(float[] x, double[] w, int k, int n, int block, float[]? bias, CpuTensor o, int rows, int j0, int j1, int nanRow, string what)
    {
        var xr = x.Select(v => BFloat16Codec.ToSingle(BFloat16Codec.FromSingle(v))).ToArray();
        var blocks = (k + block - 1) / block;
        for (var t = 0; t < rows; t++)
        {
            var orow = o.Row(t);
            for (var j = 0; j < n; j++)
            {
                if (j < j0 || j >= j1)
                {
                    Assert.True(float.IsNaN(orow[j]), $"{what}: column {j} outside [{j0}, {j1}) was written");
                    continue;
                }
                if (j == nanRow && k > 0)
                {
                    Assert.True(float.IsNaN(orow[j]), $"{what}: o[{t}, {j}] = {orow[j]}, but its weight row holds a NaN code");
                    continue;
                }
                double sum = 0, abs = 0;
                for (var i = 0; i < k; i++)
                {
                    var p = xr[t * k + i] * w[j * k + i];
                    sum += p;
                    abs += Math.Abs(p);
                }
                var b = bias?[j] ?? 0f;
                var tol = (k + 16 + 2 * blocks) * Math.ScaleB(1, -24) * abs + Math.ScaleB(1, -24) * Math.Abs(sum + b) + 1e-30;
                Assert.True(Math.Abs(orow[j] - (sum + b)) <= tol, $"{what}: o[{t}, {j}] = {orow[j]}, expected {sum + b} ± {tol}");
            }
        }
    }

    private void RunGemm(int rows, int n, int k, int block, int j0, int j1, bool withBias, int seed, int nanRow = -1)
    {
        var (w, exact) = Fp8Weight(n, k, block, seed, nanRow);
        var x = MappedWeights.Random(rows * k, seed + 2);
        var bias = withBias ? MappedWeights.Random(n, seed + 3) : null;
        var xt = NativeCpuKernelsTests.Strided(x, rows, k, pad: 6);
        var o = NativeCpuKernelsTests.Strided(new float[rows * n], rows, n, pad: 10);
        for (var t = 0; t < rows; t++) o.Row(t).Fill(float.NaN);
        var xb = new ushort[Math.Max(1, rows * NativeCpuKernels.Bf16Stride(k))];
        NativeCpuKernels.ToBf16(xt, xb);
        NativeCpuKernels.GemmFp8(xb, rows, w, bias, o, j0, j1);
        AssertGemm(x, exact, k, n, block, bias, o, rows, j0, j1, nanRow, $"M={rows} N={n} K={k} block={block} [{j0}, {j1}) bias={withBias}");
    }

    [NativeFp8Fact]
    public void GemmFp8_matches_the_reference_for_every_small_token_count_block_width_and_odd_shapes()
    {
        var seed = 100;
        int[] ks = [1, 31, 32, 33, 100, 128, 129, 257, 300];
        int[] ns = [1, 2, 3, 5, 7, 13, 37];
        foreach (var block in new[] { 32, 64, 128 })
            for (var rows = 0; rows <= 20; rows++)
            {
                var k = ks[(rows + block / 32) % ks.Length];
                var n = ns[(rows + k) % ns.Length];
                RunGemm(rows, n, k, block, 0, n, withBias: rows % 2 == 0, seed++, nanRow: rows % 3 == 0 ? n / 2 : -1);
            }
    }

    [NativeFp8Fact]
    public void GemmFp8_matches_the_reference_for_long_rows_larger_batches_and_column_ranges()
    {
        foreach (var rows in new[] { 1, 2, 4, 5, 65 })
            RunGemm(rows, n: 11, k: 4500, block: 128, 0, 11, withBias: true, seed: rows, nanRow: 3);   // three K chunks, a partial block
        RunGemm(rows: 130, n: 70, k: 200, block: 64, 0, 70, withBias: false, seed: 7);
        foreach (var (j0, j1) in new[] { (0, 0), (3, 4), (5, 96), (1, 100), (97, 100) })
            foreach (var rows in new[] { 1, 3, 9 })
                RunGemm(rows, n: 100, k: 257, block: 128, j0, j1, withBias: true, seed: 10 + j0 + j1 + rows);
    }

    /// <summary>
    /// Through the backend, FP8 matmuls take the native GEMM at every row count (other values than the fp32 path) and a
    /// token row's result does not depend on how many rows share the matmul — greedy speculative and batched decoding
    /// of FP8 checkpoints stay equal to plain decoding.
    /// </summary>
    [NativeFp8Fact]
    public void Backend_FP8_matmuls_are_native_at_every_row_count_and_each_row_is_independent_of_the_batch()
    {
        const int n = 130, k = 300;
        var (w, exact) = Fp8Weight(n, k, 128, seed: 9);
        using var on = new CpuBackend(threads: 2);
        using var off = new CpuBackend(threads: 2) { NativeKernels = false };
        foreach (var rows in new[] { 1, 2, 3, 4, 5, 8, 9, 33, 70 })
        {
            var x = MappedWeights.Random(rows * k, 60 + rows);
            var native = MappedWeights.MatMul(on, w, x, rows);
            var o = (CpuTensor)on.Allocate(rows, n);
            native.CopyTo(o.Data, 0);
            AssertGemm(x, exact, k, n, 128, null, o, rows, 0, n, -1, $"backend, {rows} rows");
            Assert.NotEqual(MappedWeights.MatMul(off, w, x, rows), native);
            for (var t = 0; t < rows; t++)
                Assert.Equal(MappedWeights.MatMul(on, w, x.AsSpan(t * k, k).ToArray(), 1), native.AsSpan(t * n, n).ToArray());
        }
    }
}
