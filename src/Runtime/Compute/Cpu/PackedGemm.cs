using System.Buffers;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace DeepSeek.Runtime.Compute.Cpu;

/// <summary>
/// C[m, n] (+)= Σ_k A[m, k]·B[k, n] in float for the training ops (<c>LinearOp</c>, <c>AttentionOp</c>), whose matrices are
/// small (a few dozen to a few hundred per side) and many. A dot product per output there costs more in call overhead and
/// horizontal sums than in arithmetic; here B is first copied into a row-major panel padded to whole vectors, and a 4×32
/// register tile broadcasts four A values per k against two B vectors, so an output is never reduced across lanes.
/// A is read through two strides (A[m, k] = a[m·rowStride + k·colStride]), so Aᵀ costs no copy. Each output sums its
/// products in k order, one FMA at a time, then adds the old C when accumulating: results do not depend on the tile an
/// output fell in. The causal shapes of attention skip the blocks a causal mask zeroes (see <see cref="Causal"/>).
/// </summary>
internal static class PackedGemm
{
    /// <summary>Which part of the k or n range a causal attention product needs, per block of rows starting at row m₀.</summary>
    public enum Causal
    {
        /// <summary>The whole range.</summary>
        None,
        /// <summary>k ≤ m₀ + 3: A is lower-triangular (probabilities, score gradients), zero past the row's own index.</summary>
        KThroughRow,
        /// <summary>k ≥ m₀: A is the transpose of a lower-triangular matrix, zero before the row's own index.</summary>
        KFromRow,
        /// <summary>n ≤ m₀ + 3 (and n &lt; N): only the causal columns of each row are needed (entries above the diagonal in the block come out too and are the caller's to ignore).</summary>
        NThroughRow,
    }

    /// <summary>Whether the vector kernel runs here (512-bit vectors in hardware); callers keep their scalar path otherwise.</summary>
    public static bool IsSupported => Vector512.IsHardwareAccelerated;

    /// <summary>Columns of a packed panel for <paramref name="n"/> columns: rounded up to a whole vector.</summary>
    public static int PanelWidth(int n) => (n + 15) & ~15;

    /// <summary>
    /// Copies B[k, n] = b[k·rowStride + n·colStride] (k &lt; <paramref name="rows"/>, n &lt; <paramref name="cols"/>) into
    /// <paramref name="panel"/> [rows, PanelWidth(cols)], zero in the padding.
    /// </summary>
    public static void Pack(ReadOnlySpan<float> b, int rowStride, int colStride, int rows, int cols, Span<float> panel)
    {
        var width = PanelWidth(cols);
        Debug.Assert(panel.Length >= rows * width);
        for (var k = 0; k < rows; k++)
        {
            var line = panel.Slice(k * width, width);
            if (colStride == 1)
            {
                b.Slice(k * rowStride, cols).CopyTo(line);
            }
            else
            {
                var at = k * rowStride;
                for (var n = 0; n < cols; n++, at += colStride) line[n] = b[at];
            }
            line[cols..].Clear();
        }
    }

    /// <summary>A pooled panel of at least <paramref name="length"/> floats (return it with <see cref="Return"/>).</summary>
    public static float[] Rent(int length) => ArrayPool<float>.Shared.Rent(Math.Max(1, length));

    /// <summary>Gives back a panel from <see cref="Rent"/>.</summary>
    public static void Return(float[] panel) => ArrayPool<float>.Shared.Return(panel);

    /// <summary>
    /// C [M, N] (row stride <paramref name="ldc"/>) = (C +) A·B, A as described above, B a panel from <see cref="Pack"/> with
    /// K rows. Requires <see cref="IsSupported"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Multiply(ReadOnlySpan<float> a, int aRowStride, int aColStride, ReadOnlySpan<float> panel, Span<float> c, int ldc,
        int m, int n, int k, bool accumulate, Causal causal = Causal.None)
    {
        Debug.Assert(IsSupported);
        if (m == 0 || n == 0) return;
        var width = PanelWidth(n);
        Debug.Assert(panel.Length >= k * width);
        Debug.Assert(c.Length >= (m - 1) * ldc + n);
        Span<float> tail = stackalloc float[16];
        ref var ar = ref MemoryMarshal.GetReference(a);
        ref var br = ref MemoryMarshal.GetReference(panel);
        for (var m0 = 0; m0 < m; m0 += 4)
        {
            var rows = Math.Min(4, m - m0);
            int k0 = 0, k1 = k, n1 = n;
            switch (causal)
            {
                case Causal.KThroughRow: k1 = Math.Min(k, m0 + 4); break;
                case Causal.KFromRow: k0 = Math.Min(k, m0); break;
                case Causal.NThroughRow: n1 = Math.Min(n, m0 + 4); break;
            }
            for (var n0 = 0; n0 < n1; n0 += 32)
            {
                var two = n0 + 16 < n1;
                Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default,
                                 c20 = default, c21 = default, c30 = default, c31 = default;
                ref var a0 = ref Unsafe.Add(ref ar, (nint)m0 * aRowStride);
                if (rows == 4 && two)
                {
                    for (var kk = k0; kk < k1; kk++)
                    {
                        ref var bk = ref Unsafe.Add(ref br, (nint)kk * width + n0);
                        var b0 = Vector512.LoadUnsafe(ref bk);
                        var b1 = Vector512.LoadUnsafe(ref bk, 16);
                        ref var ak = ref Unsafe.Add(ref a0, (nint)kk * aColStride);
                        var x = Vector512.Create(ak);
                        c00 = Vector512.FusedMultiplyAdd(x, b0, c00);
                        c01 = Vector512.FusedMultiplyAdd(x, b1, c01);
                        x = Vector512.Create(Unsafe.Add(ref ak, aRowStride));
                        c10 = Vector512.FusedMultiplyAdd(x, b0, c10);
                        c11 = Vector512.FusedMultiplyAdd(x, b1, c11);
                        x = Vector512.Create(Unsafe.Add(ref ak, 2 * aRowStride));
                        c20 = Vector512.FusedMultiplyAdd(x, b0, c20);
                        c21 = Vector512.FusedMultiplyAdd(x, b1, c21);
                        x = Vector512.Create(Unsafe.Add(ref ak, 3 * aRowStride));
                        c30 = Vector512.FusedMultiplyAdd(x, b0, c30);
                        c31 = Vector512.FusedMultiplyAdd(x, b1, c31);
                    }
                }
                else if (rows == 4)
                {
                    for (var kk = k0; kk < k1; kk++)
                    {
                        var b0 = Vector512.LoadUnsafe(ref Unsafe.Add(ref br, (nint)kk * width + n0));
                        ref var ak = ref Unsafe.Add(ref a0, (nint)kk * aColStride);
                        c00 = Vector512.FusedMultiplyAdd(Vector512.Create(ak), b0, c00);
                        c10 = Vector512.FusedMultiplyAdd(Vector512.Create(Unsafe.Add(ref ak, aRowStride)), b0, c10);
                        c20 = Vector512.FusedMultiplyAdd(Vector512.Create(Unsafe.Add(ref ak, 2 * aRowStride)), b0, c20);
                        c30 = Vector512.FusedMultiplyAdd(Vector512.Create(Unsafe.Add(ref ak, 3 * aRowStride)), b0, c30);
                    }
                }
                else
                {
                    // The last 1–3 rows: one row at a time, the same k order.
                    for (var r = 0; r < rows; r++)
                    {
                        Vector512<float> s0 = default, s1 = default;
                        ref var arow = ref Unsafe.Add(ref a0, (nint)r * aRowStride);
                        for (var kk = k0; kk < k1; kk++)
                        {
                            ref var bk = ref Unsafe.Add(ref br, (nint)kk * width + n0);
                            var x = Vector512.Create(Unsafe.Add(ref arow, (nint)kk * aColStride));
                            s0 = Vector512.FusedMultiplyAdd(x, Vector512.LoadUnsafe(ref bk), s0);
                            if (two) s1 = Vector512.FusedMultiplyAdd(x, Vector512.LoadUnsafe(ref bk, 16), s1);
                        }
                        Store(c, (m0 + r) * ldc + n0, n1 - n0, s0, s1, accumulate, tail);
                    }
                    continue;
                }
                Store(c, m0 * ldc + n0, n1 - n0, c00, c01, accumulate, tail);
                Store(c, (m0 + 1) * ldc + n0, n1 - n0, c10, c11, accumulate, tail);
                Store(c, (m0 + 2) * ldc + n0, n1 - n0, c20, c21, accumulate, tail);
                Store(c, (m0 + 3) * ldc + n0, n1 - n0, c30, c31, accumulate, tail);
            }
        }
    }

    /// <summary>Writes (or adds) the first min(32, <paramref name="count"/>) of the two vectors at c[at…].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(Span<float> c, int at, int count, Vector512<float> v0, Vector512<float> v1, bool accumulate, Span<float> tail)
    {
        ref var cr = ref MemoryMarshal.GetReference(c);
        ref var dst = ref Unsafe.Add(ref cr, at);
        if (count >= 16)
        {
            if (accumulate) v0 += Vector512.LoadUnsafe(ref dst);
            v0.StoreUnsafe(ref dst);
            if (count >= 32)
            {
                if (accumulate) v1 += Vector512.LoadUnsafe(ref dst, 16);
                v1.StoreUnsafe(ref dst, 16);
                return;
            }
            if (count == 16) return;
            dst = ref Unsafe.Add(ref dst, 16);
            count -= 16;
            v0 = v1;
        }
        // A partial vector: through a stack line, so nothing past the row is touched.
        v0.CopyTo(tail);
        var part = MemoryMarshal.CreateSpan(ref dst, count);
        if (accumulate)
            for (var i = 0; i < count; i++) part[i] += tail[i];
        else
            tail[..count].CopyTo(part);
    }
}
