using DeepSeek.Interop.Cuda;
using DeepSeek.Interop.Gpu;
using DeepSeek.Runtime.Compute.Cpu;
using DeepSeek.Runtime.Tensors;

namespace DeepSeek.Benchmarks.Gpu;

/// <summary>
/// The GEMM sections: block-scaled FP8 (<c>fp8_gemm</c>, scalar FMAs, and <c>fp8_gemm_mma</c>, tensor cores, side by
/// side on the same data), its grouped MoE form (<c>fp8_gemm_grouped</c>, contiguous
/// layout) and fp32-activation × BF16-weight (<c>gemm_w_bf16</c>, what non-FP8 checkpoints run). Each shape is first
/// checked on a slice — first and last rows, first and last 128-row weight block — against the CPU twin
/// <see cref="BlockFp8Gemm"/> (FP8) or a float64 dot product (BF16), then timed.
/// </summary>
internal sealed class GemmBenchmarks(CudaBackend gpu, GpuTimer timer, Random rng)
{
    private const int Threads = 256;
    private const int Tile = 64;
    private CudaContext Context => gpu.Context;

    /// <summary>The FP8 kernels timed side by side: same arguments, grid and data.</summary>
    public static readonly string[] Fp8Kernels = ["fp8_gemm", "fp8_gemm_mma"];

    public BenchmarkRow Fp8(int m, WeightShape w, string kernelName = "fp8_gemm")
    {
        int n = w.N, k = w.K, kb = BlockFp8Gemm.KBlocks(k), nb = BlockFp8Gemm.KBlocks(n);
        var a = HostData.Fp8Codes(rng, (long)m * k);
        var sa = HostData.Scales(rng, (long)m * kb);
        var b = HostData.Fp8Codes(rng, (long)n * k);
        var sb = HostData.Scales(rng, (long)nb * kb);
        using var da = HostData.Upload(Context, a);
        using var dsa = HostData.Upload(Context, sa);
        using var db = HostData.Upload(Context, b);
        using var dsb = HostData.Upload(Context, sb);
        using var dc = Context.Allocate<float>((long)m * n);
        var kernel = gpu.Kernels.Get(new KernelKey(kernelName));
        var args = new KernelArguments().Add(da).Add(dsa).Add(db).Add(dsb).Add(dc).Add((long)n).Add(m).Add(n).Add(k);
        var grid = new LaunchDims(Blocks(n), Blocks(m));
        void Launch() => kernel.Launch(grid, Threads, args);

        Launch();
        Context.Synchronize();
        // fp8_gemm sums each 128-block in the twin's order; the tensor cores in their own (BlockFp8Gemm.ReorderingBound).
        var check = CheckFp8Slice($"{kernelName} M={m} N={n} K={k}", a, sa, 0, m, b, sb, 0, 0, n, k, dc, 0, reordered: kernelName != "fp8_gemm");
        var ms = timer.Measure(Launch);
        return new BenchmarkRow("fp8", kernelName, $"M={m} N={n} K={k}", ms, Tflops(m, n, k, ms), null, check)
        {
            Dimensions = new Dictionary<string, long> { ["m"] = m, ["n"] = n, ["k"] = k },
        };
    }

    public BenchmarkRow Grouped(int groups, int rowsPerGroup, WeightShape w)
    {
        int n = w.N, k = w.K, kb = BlockFp8Gemm.KBlocks(k), nb = BlockFp8Gemm.KBlocks(n), m = groups * rowsPerGroup;
        var a = HostData.Fp8Codes(rng, (long)m * k);
        var sa = HostData.Scales(rng, (long)m * kb);
        var b = HostData.Fp8Codes(rng, (long)groups * n * k);
        var sb = HostData.Scales(rng, (long)groups * nb * kb);
        var offsets = Enumerable.Range(0, groups + 1).Select(g => g * rowsPerGroup).ToArray();
        using var da = HostData.Upload(Context, a);
        using var dsa = HostData.Upload(Context, sa);
        using var db = HostData.Upload(Context, b);
        using var dsb = HostData.Upload(Context, sb);
        using var doff = HostData.Upload(Context, offsets);
        using var dc = Context.Allocate<float>((long)m * n);
        var kernel = gpu.Kernels.Get(new KernelKey("fp8_gemm_grouped"));
        var args = new KernelArguments().Add(da).Add(dsa).Add(db).Add(dsb).Add(dc).Add((long)n).Add(doff).Add(n).Add(k);
        var grid = new LaunchDims(Blocks(n), Blocks(rowsPerGroup), (uint)groups);
        void Launch() => kernel.Launch(grid, Threads, args);

        Launch();
        Context.Synchronize();
        var last = groups - 1;
        var check = CheckFp8Slice($"fp8_gemm_grouped group {last} of {groups}, {rowsPerGroup} rows each, N={n} K={k}",
            a, sa, offsets[last], rowsPerGroup, b, sb, (long)last * n * k, (long)last * nb * kb, n, k, dc, offsets[last]);
        var ms = timer.Measure(Launch);
        return new BenchmarkRow("grouped", "fp8_gemm_grouped", $"G={groups} M/G={rowsPerGroup} N={n} K={k}", ms, Tflops(m, n, k, ms), null, check)
        {
            Dimensions = new Dictionary<string, long> { ["groups"] = groups, ["m_per_group"] = rowsPerGroup, ["m"] = m, ["n"] = n, ["k"] = k },
        };
    }

    public BenchmarkRow Bf16(int m, WeightShape w)
    {
        int n = w.N, k = w.K;
        var x = HostData.Floats(rng, (long)m * k);
        var wb = HostData.BFloat16(rng, (long)n * k);
        using var dx = HostData.Upload(Context, x);
        using var dw = HostData.Upload(Context, wb);
        using var dc = Context.Allocate<float>((long)m * n);
        var kernel = gpu.Kernels.Get(new KernelKey("gemm_w", "bf16"));
        // (x, ldx, w, w_scale, w_cols, w_scale_cols, w_block_rows, w_block_cols, bias, out, ldo, M, N): no scale, no bias.
        var args = new KernelArguments().Add(dx).Add((long)k).Add(dw).AddPointer(0).Add(k).Add(0).Add(1).Add(1).AddPointer(0)
            .Add(dc).Add((long)n).Add(m).Add(n);
        var grid = new LaunchDims(Blocks(n), Blocks(m));
        void Launch() => kernel.Launch(grid, Threads, args);

        Launch();
        Context.Synchronize();
        var rows = SliceRows(m);
        var cols = Enumerable.Range(0, Math.Min(n, 64)).Concat(Enumerable.Range(Math.Max(64, n - 64), Math.Min(64, Math.Max(0, n - 64)))).ToArray();
        var expected = new float[rows.Length * cols.Length];
        var actual = new float[expected.Length];
        for (var i = 0; i < rows.Length; i++)
        {
            var got = HostData.DownloadRow(dc, rows[i], n);
            for (var j = 0; j < cols.Length; j++)
            {
                double s = 0;
                for (var kk = 0; kk < k; kk++) s += (double)x[(long)rows[i] * k + kk] * BFloat16Codec.ToSingle(wb[(long)cols[j] * k + kk]);
                expected[i * cols.Length + j] = (float)s;
                actual[i * cols.Length + j] = got[cols[j]];
            }
        }
        // fp32 accumulation over K terms against a float64 sum: K·2⁻²⁴ relative is the worst case.
        var check = HostData.Compare($"gemm_w_bf16 M={m} N={n} K={k}", expected, actual, Math.Max(1e-5, k * 6e-8));
        var ms = timer.Measure(Launch);
        return new BenchmarkRow("bf16", "gemm_w_bf16", $"M={m} N={n} K={k}", ms, Tflops(m, n, k, ms), null, check)
        {
            Dimensions = new Dictionary<string, long> { ["m"] = m, ["n"] = n, ["k"] = k },
        };
    }

    /// <summary>
    /// Rows <see cref="SliceRows"/> of one (group's) A against the first and last 128-row block of its B through the
    /// CPU twin; the scale grid of the slice keeps block boundaries, so the twin computes exactly those outputs.
    /// </summary>
    private static string CheckFp8Slice(string what, byte[] a, float[] sa, long aRow0, int rows, byte[] b, float[] sb, long bOffset, long sbOffset,
        int n, int k, DeviceBuffer<float> c, long cRow0, bool reordered = false)
    {
        int kb = BlockFp8Gemm.KBlocks(k), nb = BlockFp8Gemm.KBlocks(n);
        var sliceRows = SliceRows(rows);
        var blocks = nb == 1 ? new[] { 0 } : new[] { 0, nb - 1 };
        var cols = blocks.SelectMany(blk => Enumerable.Range(blk * 128, Math.Min(128, n - blk * 128))).ToArray();
        var aSlice = new byte[sliceRows.Length * k];
        var saSlice = new float[sliceRows.Length * kb];
        for (var i = 0; i < sliceRows.Length; i++)
        {
            var r = aRow0 + sliceRows[i];
            Array.Copy(a, r * k, aSlice, (long)i * k, k);
            Array.Copy(sa, r * kb, saSlice, (long)i * kb, kb);
        }
        var bSlice = new byte[(long)cols.Length * k];
        for (var j = 0; j < cols.Length; j++) Array.Copy(b, bOffset + (long)cols[j] * k, bSlice, (long)j * k, k);
        var sbSlice = new float[blocks.Length * kb];
        for (var j = 0; j < blocks.Length; j++) Array.Copy(sb, sbOffset + (long)blocks[j] * kb, sbSlice, (long)j * kb, kb);
        var expected = new float[sliceRows.Length * cols.Length];
        BlockFp8Gemm.Gemm(aSlice, saSlice, sliceRows.Length, k, bSlice, sbSlice, cols.Length, expected);
        var actual = new float[expected.Length];
        for (var i = 0; i < sliceRows.Length; i++)
        {
            var got = HostData.DownloadRow(c, cRow0 + sliceRows[i], n);
            for (var j = 0; j < cols.Length; j++) actual[i * cols.Length + j] = got[cols[j]];
        }
        if (reordered)
            return HostData.CompareWithin(what + " vs BlockFp8Gemm", expected, actual,
                BlockFp8Gemm.ReorderingBound(aSlice, saSlice, sliceRows.Length, k, bSlice, sbSlice, cols.Length));
        // The kernel and its twin do the same fused multiply-adds in the same order: anything but rounding noise is a bug.
        return HostData.Compare(what + " vs BlockFp8Gemm", expected, actual, 1e-6);
    }

    /// <summary>The first two and last two rows (fewer when there are fewer).</summary>
    private static int[] SliceRows(int rows) => [.. new[] { 0, 1, rows - 2, rows - 1 }.Where(r => r >= 0 && r < rows).Distinct()];

    private static uint Blocks(int extent) => (uint)Math.Max(1, (extent + Tile - 1) / Tile);

    private static double? Tflops(long m, long n, long k, double ms) => ms > 0 ? 2.0 * m * n * k / (ms * 1e-3) / 1e12 : null;
}
