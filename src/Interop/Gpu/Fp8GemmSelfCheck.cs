using DeepSeek.Interop.Cuda;
using DeepSeek.Runtime.Compute.Cpu;

namespace DeepSeek.Interop.Gpu;

/// <summary>
/// Whether <c>fp8_gemm_mma</c> (tensor cores) may stand in for <c>fp8_gemm</c> on this GPU: both run one small
/// problem with every edge the kernels handle (a partial 64-row tile, a partial 64-column tile across two 128-column
/// weight blocks, a partial last 128-block of K), and the tensor-core result must lie within
/// <see cref="BlockFp8Gemm.ReorderingBound"/> of the scalar one. The scalar kernel is held bit for bit to the CPU twin
/// by the GPU tests; the tensor-core kernel is new and unverified on most hardware, so it is used only where it passes.
/// </summary>
internal static class Fp8GemmSelfCheck
{
    internal const int M = 40, N = 136, K = 200;

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
        var bound = BlockFp8Gemm.ReorderingBound(a, sa, M, K, b, sb, N);
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
