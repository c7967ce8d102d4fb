using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Compute.Cpu;
using DeepSeek.Runtime.Tensors;

namespace DeepSeek.Runtime.Tests.Compute;

/// <summary>A fact that skips, saying why, where libdeepseek_cpu.so did not load (no C compiler, no avx512bf16, disabled).</summary>
public sealed class NativeCpuFactAttribute : FactAttribute
{
    public NativeCpuFactAttribute()
    {
        if (!NativeCpuKernels.IsAvailable) Skip = $"native CPU kernels unavailable: {NativeCpuKernels.Status}";
    }
}

/// <summary>A theory that skips, saying why, where libdeepseek_cpu.so did not load.</summary>
public sealed class NativeCpuTheoryAttribute : TheoryAttribute
{
    public NativeCpuTheoryAttribute()
    {
        if (!NativeCpuKernels.IsAvailable) Skip = $"native CPU kernels unavailable: {NativeCpuKernels.Status}";
    }
}

/// <summary>
/// The native BF16 GEMM against a scalar reference on the same bf16-rounded activations (double sums), over token counts
/// 0..20 and larger, odd N and K (not multiples of 16/32/128, and past the 2048-wide K chunk), row strides and column
/// ranges; and the backend's choice between it and the fp32 path.
/// </summary>
public sealed class NativeCpuKernelsTests : IDisposable
{
    private readonly MappedWeights _weights = new();

    public void Dispose() => _weights.Dispose();

    private static float[] Random(int n, int seed) => MappedWeights.Random(n, seed);

    private CpuWeight Bf16Weight(float[] values, int rows, int cols) => new(_weights.Write(values, rows, cols, DType.BF16));

    /// <summary>A rows × cols view with row stride cols + pad and a column offset, so strides and offsets are exercised.</summary>
    internal static CpuTensor Strided(float[] values, int rows, int cols, int pad)
    {
        var whole = new CpuTensor(rows, cols + pad);
        Array.Fill(whole.Data, float.NaN);
        var view = (CpuTensor)whole.Columns(pad / 2, cols);
        for (var r = 0; r < rows; r++) values.AsSpan(r * cols, cols).CopyTo(view.Row(r));
        return view;
    }

    /// <summary>
    /// Checks o[t, j0..j1) against Σ_k bf16(x[t, k])·w[j, k] in double. Each fp32 partial sum rounds with relative
    /// error ≤ 2^-24; a sum of K terms in any order stays within (K + 16)·2^-24·Σ|terms| (the +16 covers the 16 lanes
    /// and the final reduction), so the bound is derived from K, not tuned.
    /// </summary>
    private static void AssertGemm(float[] x, CpuWeight w, float[]? bias, CpuTensor o, int rows, int j0, int j1, string what)
    {
        var k = w.Cols;
        var xr = x.Select(v => BFloat16Codec.ToSingle(BFloat16Codec.FromSingle(v))).ToArray();
        for (var t = 0; t < rows; t++)
        {
            var orow = o.Row(t);
            for (var j = 0; j < w.Rows; j++)
            {
                if (j < j0 || j >= j1)
                {
                    Assert.True(float.IsNaN(orow[j]), $"{what}: column {j} outside [{j0}, {j1}) was written");
                    continue;
                }
                var wr = w.Bf16Row(j);
                double sum = 0, abs = 0;
                for (var i = 0; i < k; i++)
                {
                    var p = (double)xr[t * k + i] * BFloat16Codec.ToSingle(wr[i]);
                    sum += p;
                    abs += Math.Abs(p);
                }
                var b = bias?[j] ?? 0f;
                var tol = (k + 16) * Math.ScaleB(1, -24) * abs + Math.ScaleB(1, -24) * Math.Abs(sum + b) + 1e-30;
                Assert.True(Math.Abs(orow[j] - (sum + b)) <= tol, $"{what}: o[{t}, {j}] = {orow[j]}, expected {sum + b} ± {tol}");
            }
        }
    }

    private void RunGemm(int rows, int n, int k, int j0, int j1, bool withBias, int seed)
    {
        var w = Bf16Weight(Random(n * k, seed), n, k);
        var x = Random(rows * k, seed + 1);
        var bias = withBias ? Random(n, seed + 2) : null;
        var xt = Strided(x, rows, k, pad: 6);
        var o = Strided(new float[rows * n], rows, n, pad: 10);
        for (var t = 0; t < rows; t++) o.Row(t).Fill(float.NaN);
        var xb = new ushort[Math.Max(1, rows * NativeCpuKernels.Bf16Stride(k))];
        NativeCpuKernels.ToBf16(xt, xb);
        NativeCpuKernels.GemmBf16(xb, rows, w, bias, o, j0, j1);
        AssertGemm(x, w, bias, o, rows, j0, j1, $"M={rows} N={n} K={k} [{j0}, {j1}) bias={withBias}");
    }

    [NativeCpuFact]
    public void ToBf16_rounds_to_nearest_even_like_the_codec_and_zeroes_the_padding()
    {
        for (var cols = 0; cols <= 257; cols++)
        {
            var x = Random(3 * cols, cols);
            if (cols > 2) x[1] = BitConverter.UInt32BitsToSingle(0x3F808000);  // a tie: rounds to even (down)
            if (cols > 3) x[2] = BitConverter.UInt32BitsToSingle(0x3F818000);  // a tie: rounds to even (up)
            var xt = Strided(x, 3, cols, pad: 5);
            var ld = NativeCpuKernels.Bf16Stride(cols);
            var xb = Enumerable.Repeat((ushort)0xFFFF, Math.Max(1, 3 * ld)).ToArray();
            NativeCpuKernels.ToBf16(xt, xb);
            for (var r = 0; r < 3; r++)
            {
                for (var c = 0; c < cols; c++) Assert.Equal(BFloat16Codec.FromSingle(x[r * cols + c]), xb[r * ld + c]);
                for (var c = cols; c < ld; c++) Assert.Equal(0, xb[r * ld + c]);
            }
        }
    }

    [NativeCpuFact]
    public void GemmBf16_matches_the_reference_for_every_small_token_count_and_odd_shapes()
    {
        int[] ns = [1, 5, 6, 7, 13, 37];
        int[] ks = [0, 1, 2, 15, 16, 17, 31, 32, 33, 63, 64, 127, 128, 129, 200, 255, 256, 257];
        var seed = 0;
        for (var rows = 0; rows <= 20; rows++)
            foreach (var k in ks)
            {
                var n = ns[(rows + k) % ns.Length];
                RunGemm(rows, n, k, 0, n, withBias: (rows + k) % 2 == 0, seed++);
            }
    }

    [NativeCpuFact]
    public void GemmBf16_matches_the_reference_for_larger_batches_column_ranges_and_long_rows()
    {
        // Past the 64-row token block and the 2048-wide K chunk (partial sums added across chunks).
        RunGemm(rows: 130, n: 257, k: 129, 0, 257, withBias: true, seed: 1);
        RunGemm(rows: 65, n: 19, k: 4100, 0, 19, withBias: false, seed: 2);
        RunGemm(rows: 9, n: 11, k: 2048, 0, 11, withBias: true, seed: 3);
        // Column ranges as the worker pool splits them: odd starts and ends, empty, single.
        foreach (var (j0, j1) in new[] { (0, 0), (3, 4), (5, 96), (1, 100), (97, 100), (0, 100) })
            RunGemm(rows: 21, n: 100, k: 257, j0, j1, withBias: true, seed: 10 + j0 + j1);
    }

    private static float[] MatMul(CpuBackend backend, CpuWeight w, float[] x, int rows) => MappedWeights.MatMul(backend, w, x, rows);

    [NativeCpuFact]
    public void Backend_MatMul_takes_the_native_path_at_every_row_count_split_over_the_pool()
    {
        const int n = 301, k = 515;
        var w = Bf16Weight(Random(n * k, 40), n, k);
        using var backend = new CpuBackend(threads: 2);
        Assert.True(backend.NativeKernelsActive);
        foreach (var rows in new[] { 1, 2, 8, 33 })
        {
            var x = Random(rows * k, rows);
            var o = (CpuTensor)backend.Allocate(rows, n);
            var got = MatMul(backend, w, x, rows);
            got.CopyTo(o.Data, 0);
            AssertGemm(x, w, null, o, rows, 0, n, $"backend, {rows} rows");
            // Not the fp32 path: bf16-rounded activations give other values (here, almost surely somewhere).
            using var fp32 = new CpuBackend(threads: 2) { NativeKernels = false };
            Assert.NotEqual(MatMul(fp32, w, x, rows), got);
        }
    }

    /// <summary>
    /// A token row's result does not depend on how many rows share the matmul, on the native path (every row count of a
    /// BF16 matmul takes it, from one-token decode to prefill) as on the fp32 one (NativeKernels off): what keeps greedy
    /// speculative decoding equal to plain greedy decoding and a batched request equal to its run alone. Runs with or
    /// without the library (without it both backends are the fp32 path).
    /// </summary>
    [Fact]
    public void Each_row_is_the_same_whatever_the_batch_on_the_native_and_the_fp32_path()
    {
        const int n = 130, k = 300;
        var w = Bf16Weight(Random(n * k, 50), n, k);
        using var on = new CpuBackend(threads: 2);
        using var off = new CpuBackend(threads: 2) { NativeKernels = false };
        Assert.False(off.NativeKernelsActive);
        foreach (var rows in new[] { 1, 2, 7, 8, 9, 20, 70 })
        {
            var x = Random(rows * k, 60 + rows);
            var (native, fp32) = (MatMul(on, w, x, rows), MatMul(off, w, x, rows));
            for (var t = 0; t < rows; t++)
            {
                var alone = x.AsSpan(t * k, k).ToArray();
                Assert.Equal(MatMul(on, w, alone, 1), native.AsSpan(t * n, n).ToArray());
                Assert.Equal(MatMul(off, w, alone, 1), fp32.AsSpan(t * n, n).ToArray());
            }
        }
    }
}
