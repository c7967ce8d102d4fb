using DeepSeek.Interop.Cuda;
using DeepSeek.Runtime.Compute.Cpu;
using DeepSeek.Runtime.Tensors;

namespace DeepSeek.Interop.Gpu;

/// <summary>
/// Whether <c>fp8_gemm_mma</c> (tensor cores) may stand in for <c>fp8_gemm</c> on this GPU: both run one small
/// problem with every edge the kernels handle (a partial 64-row tile, a partial 64-column tile across two 128-column
/// weight blocks, a partial last 128-block of K), and the tensor-core result must lie within
/// <see cref="Bound"/> of the scalar one. The scalar kernel is held bit for bit to the CPU twin by the GPU tests; the
/// tensor-core kernel is new and unverified on most hardware, so it is used only where it passes here.
/// </summary>
internal static class Fp8GemmSelfCheck
{
    internal const int M = 40, N = 136, K = 200;

    /// <summary>
    /// The largest |tensor-core − twin| a correct kernel can show at each output of c [m, n]. Both compute, per 128-block
    /// b of K, the fp32 sum p_b of exact products a_k·b_k (L = min(K, 128) terms) and promote acc = fma(p_b, s_b, acc)
    /// with s_b = sa·sb. The twin sums in k order: |error| ≤ (L−1)·u·Σ|a_k·b_k| (u = 2⁻²⁴). The tensor core sums in its
    /// own order and may truncate instead of round: ≤ L·2u·Σ|a_k·b_k|. A difference δ_b in p_b reaches the output as
    /// |s_b|·δ_b, and the promotions, now rounding different values, may differ by one rounding each: ≤ u·Σ_b|s_b·p_b|.
    /// So |Δc| ≤ (3L + 1)·u·Σ_b |s_b|·Σ_{k∈b}|a_k·b_k|, rounded up to (3L + 2)·u·… to cover the double-precision bound
    /// itself. Any layout error moves outputs by whole products, far above this (the tests check that it does).
    /// </summary>
    public static double[] Bound(ReadOnlySpan<byte> a, ReadOnlySpan<float> aScales, int m, int k,
        ReadOnlySpan<byte> b, ReadOnlySpan<float> bScales, int n)
    {
        var kb = BlockFp8Gemm.KBlocks(k);
        var factor = (3.0 * Math.Min(k, BlockFp8Gemm.BlockSize) + 2) * Math.ScaleB(1.0, -24);
        var av = new float[(long)m * k];
        var bv = new float[(long)n * k];
        Float8E4M3Codec.ToSingle(a[..av.Length], av);
        Float8E4M3Codec.ToSingle(b[..bv.Length], bv);
        var bound = new double[(long)m * n];
        for (var i = 0; i < m; i++)
            for (var j = 0; j < n; j++)
            {
                double total = 0;
                for (var blk = 0; blk < kb; blk++)
                {
                    double sum = 0;
                    for (int kk = blk * BlockFp8Gemm.BlockSize, end = Math.Min(k, kk + BlockFp8Gemm.BlockSize); kk < end; kk++)
                        sum += Math.Abs((double)av[(long)i * k + kk] * bv[(long)j * k + kk]);
                    total += sum * Math.Abs((double)aScales[i * kb + blk] * bScales[j / BlockFp8Gemm.BlockSize * kb + blk]);
                }
                bound[(long)i * n + j] = factor * total;
            }
        return bound;
    }

    /// <summary>The first output outside its bound, described, or null when every output is within it (NaN never is).</summary>
    public static string? FirstDisagreement(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, ReadOnlySpan<double> bound, int n)
    {
        for (var i = 0; i < expected.Length; i++)
        {
            var diff = Math.Abs((double)expected[i] - actual[i]);
            if (!(diff <= bound[i]))
                return $"c[{i / n}, {i % n}]: reference {expected[i]}, tensor cores {actual[i]} (|difference| {diff:G3} > bound {bound[i]:G3})";
        }
        return null;
    }

    /// <summary>Runs both kernels on the fixed problem; null when fp8_gemm_mma agrees, else why not.</summary>
    public static string? Run(CudaContext context, KernelLibrary kernels)
    {
        var (a, sa, b, sb) = Problem();
        var bound = Bound(a, sa, M, K, b, sb, N);
        using var da = Upload(context, a);
        using var dsa = Upload(context, sa);
        using var db = Upload(context, b);
        using var dsb = Upload(context, sb);
        // Prefilled with NaN, so a kernel that writes nothing cannot pass.
        using var scalar = Upload(context, Enumerable.Repeat(float.NaN, M * N).ToArray());
        using var mma = Upload(context, Enumerable.Repeat(float.NaN, M * N).ToArray());
        var grid = new LaunchDims((uint)((N + 63) / 64), (uint)((M + 63) / 64));
        foreach (var (name, c) in new[] { ("fp8_gemm", scalar), ("fp8_gemm_mma", mma) })
            kernels.Get(new KernelKey(name)).Launch(grid, 256,
                new KernelArguments().Add(da).Add(dsa).Add(db).Add(dsb).Add(c).Add((long)N).Add(M).Add(N).Add(K));
        var expected = new float[M * N];
        var actual = new float[M * N];
        scalar.CopyTo(expected);
        mma.CopyTo(actual);
        return FirstDisagreement(expected, actual, bound, N);
    }

    /// <summary>Deterministic codes (every finite E4M3 value can occur, NaN codes excluded) and varied scales.</summary>
    internal static (byte[] A, float[] Sa, byte[] B, float[] Sb) Problem()
    {
        uint state = 0x9E3779B9u;
        uint Next() { state ^= state << 13; state ^= state >> 17; state ^= state << 5; return state; }
        byte Code() { byte c; do c = (byte)Next(); while ((c & 0x7F) == 0x7F); return c; }
        float Scale() => MathF.ScaleB(1 + (Next() % 64) / 64f, -(int)(Next() % 12));
        int kb = BlockFp8Gemm.KBlocks(K);
        var a = new byte[M * K];
        var b = new byte[N * K];
        for (var i = 0; i < a.Length; i++) a[i] = Code();
        for (var i = 0; i < b.Length; i++) b[i] = Code();
        var sa = new float[M * kb];
        var sb = new float[BlockFp8Gemm.KBlocks(N) * kb];
        for (var i = 0; i < sa.Length; i++) sa[i] = Scale();
        for (var i = 0; i < sb.Length; i++) sb[i] = Scale();
        return (a, sa, b, sb);
    }

    private static DeviceBuffer<T> Upload<T>(CudaContext context, T[] values) where T : unmanaged
    {
        var buffer = context.Allocate<T>(values.Length);
        try
        {
            buffer.CopyFrom(values);
            return buffer;
        }
        catch
        {
            buffer.Dispose();
            throw;
        }
    }
}
