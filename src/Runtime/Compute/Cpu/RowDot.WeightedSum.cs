using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace DeepSeek.Runtime.Compute.Cpu;

internal static partial class RowDot
{
    /// <summary>
    /// o = Σ_j p[j]·v_j over the rows v_j = rows[j·stride ..][..o.Length], j = 0 … p.Length − 1 in order, each element one
    /// fused multiply-add per row starting from zero: exactly what <c>o.Clear()</c> and <see cref="AddScaled"/>(v_j, p[j], o)
    /// for each j in turn give (an FMA per element does not depend on the vector width), but with the partial sums held
    /// in registers, four vectors of o at a time, instead of loaded and stored again for every row. The value half of
    /// MLA attention: the attention-weighted sum of the latent cache rows.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void WeightedSum(ReadOnlySpan<float> p, ReadOnlySpan<float> rows, int stride, Span<float> o) =>
        WeightedSum2(p, [], rows, stride, o, []);

    /// <summary>
    /// <see cref="WeightedSum"/> for two weight vectors over the same rows (the two queries of a speculative pair or of
    /// neighbouring prefill rows): each row loaded once for both while both have it, then the longer one alone. o0 and o1
    /// are each bit for bit their <see cref="WeightedSum"/>; o1 is untouched when p1 is empty. With
    /// <paramref name="accumulate"/> the chains continue from o0/o1 instead of zero, so a sum over rows taken block after
    /// block equals the sum over all of them at once.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void WeightedSum2(ReadOnlySpan<float> p0, ReadOnlySpan<float> p1, ReadOnlySpan<float> rows, int stride,
        Span<float> o0, Span<float> o1, bool accumulate = false)
    {
        var width = o0.Length;
        var two = p1.Length > 0;
        if (two && o1.Length != width) throw new ArgumentException("o0 and o1 differ in length");
        var longest = Math.Max(p0.Length, p1.Length);
        if (longest > 0 && rows.Length < (longest - 1) * stride + width)
            throw new ArgumentException($"{rows.Length} row values for {longest} rows of {width} at stride {stride}");
        var common = two ? Math.Min(p0.Length, p1.Length) : 0;
        ref var r = ref MemoryMarshal.GetReference(rows);
        ref var a = ref MemoryMarshal.GetReference(p0);
        ref var b = ref MemoryMarshal.GetReference(p1);
        var d = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            for (; d + 64 <= width; d += 64)
                Chunk4(ref Unsafe.Add(ref r, d), stride, ref a, p0.Length, ref b, p1.Length, common,
                    ref Unsafe.Add(ref MemoryMarshal.GetReference(o0), d), ref Unsafe.Add(ref MemoryMarshal.GetReference(o1), two ? d : 0), two, accumulate);
            for (; d + 16 <= width; d += 16)
            {
                Vector512<float> x = accumulate ? Vector512.LoadUnsafe(ref MemoryMarshal.GetReference(o0), (nuint)d) : default;
                var y = accumulate && two ? Vector512.LoadUnsafe(ref MemoryMarshal.GetReference(o1), (nuint)d) : default;
                var j = 0;
                for (; j < common; j++)
                {
                    var v = Vector512.LoadUnsafe(ref Unsafe.Add(ref r, (nint)j * stride + d));
                    x = Vector512.FusedMultiplyAdd(v, Vector512.Create(Unsafe.Add(ref a, j)), x);
                    y = Vector512.FusedMultiplyAdd(v, Vector512.Create(Unsafe.Add(ref b, j)), y);
                }
                for (var k = j; k < p0.Length; k++)
                    x = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref Unsafe.Add(ref r, (nint)k * stride + d)), Vector512.Create(Unsafe.Add(ref a, k)), x);
                for (var k = j; k < p1.Length; k++)
                    y = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref Unsafe.Add(ref r, (nint)k * stride + d)), Vector512.Create(Unsafe.Add(ref b, k)), y);
                x.StoreUnsafe(ref MemoryMarshal.GetReference(o0), (nuint)d);
                if (two) y.StoreUnsafe(ref MemoryMarshal.GetReference(o1), (nuint)d);
            }
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            for (; d + 8 <= width; d += 8)
            {
                Vector256<float> x = accumulate ? Vector256.LoadUnsafe(ref MemoryMarshal.GetReference(o0), (nuint)d) : default;
                var y = accumulate && two ? Vector256.LoadUnsafe(ref MemoryMarshal.GetReference(o1), (nuint)d) : default;
                for (var k = 0; k < p0.Length; k++)
                    x = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref Unsafe.Add(ref r, (nint)k * stride + d)), Vector256.Create(Unsafe.Add(ref a, k)), x);
                for (var k = 0; k < p1.Length; k++)
                    y = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref Unsafe.Add(ref r, (nint)k * stride + d)), Vector256.Create(Unsafe.Add(ref b, k)), y);
                x.StoreUnsafe(ref MemoryMarshal.GetReference(o0), (nuint)d);
                if (two) y.StoreUnsafe(ref MemoryMarshal.GetReference(o1), (nuint)d);
            }
        }
        for (; d < width; d++)
        {
            float x = accumulate ? o0[d] : 0, y = accumulate && two ? o1[d] : 0;
            for (var k = 0; k < p0.Length; k++) x = MathF.FusedMultiplyAdd(Unsafe.Add(ref r, (nint)k * stride + d), Unsafe.Add(ref a, k), x);
            for (var k = 0; k < p1.Length; k++) y = MathF.FusedMultiplyAdd(Unsafe.Add(ref r, (nint)k * stride + d), Unsafe.Add(ref b, k), y);
            o0[d] = x;
            if (two) o1[d] = y;
        }
    }

    /// <summary>Sums for 64 columns (four vectors) from <paramref name="r"/>, both weight vectors while both last, then each alone.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining | MethodImplOptions.AggressiveOptimization)]
    private static void Chunk4(ref float r, int stride, ref float a, int na, ref float b, int nb, int common,
        ref float o0, ref float o1, bool two, bool accumulate)
    {
        Vector512<float> x0 = default, x1 = default, x2 = default, x3 = default, y0 = default, y1 = default, y2 = default, y3 = default;
        if (accumulate)
        {
            (x0, x1, x2, x3) = (Vector512.LoadUnsafe(ref o0), Vector512.LoadUnsafe(ref o0, 16), Vector512.LoadUnsafe(ref o0, 32), Vector512.LoadUnsafe(ref o0, 48));
            if (two) (y0, y1, y2, y3) = (Vector512.LoadUnsafe(ref o1), Vector512.LoadUnsafe(ref o1, 16), Vector512.LoadUnsafe(ref o1, 32), Vector512.LoadUnsafe(ref o1, 48));
        }
        var j = 0;
        for (; j < common; j++)
        {
            ref var row = ref Unsafe.Add(ref r, (nint)j * stride);
            Vector512<float> s = Vector512.Create(Unsafe.Add(ref a, j)), t = Vector512.Create(Unsafe.Add(ref b, j));
            var v = Vector512.LoadUnsafe(ref row);
            x0 = Vector512.FusedMultiplyAdd(v, s, x0);
            y0 = Vector512.FusedMultiplyAdd(v, t, y0);
            v = Vector512.LoadUnsafe(ref row, 16);
            x1 = Vector512.FusedMultiplyAdd(v, s, x1);
            y1 = Vector512.FusedMultiplyAdd(v, t, y1);
            v = Vector512.LoadUnsafe(ref row, 32);
            x2 = Vector512.FusedMultiplyAdd(v, s, x2);
            y2 = Vector512.FusedMultiplyAdd(v, t, y2);
            v = Vector512.LoadUnsafe(ref row, 48);
            x3 = Vector512.FusedMultiplyAdd(v, s, x3);
            y3 = Vector512.FusedMultiplyAdd(v, t, y3);
        }
        for (var k = j; k < na; k++)
        {
            ref var row = ref Unsafe.Add(ref r, (nint)k * stride);
            var s = Vector512.Create(Unsafe.Add(ref a, k));
            x0 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref row), s, x0);
            x1 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref row, 16), s, x1);
            x2 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref row, 32), s, x2);
            x3 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref row, 48), s, x3);
        }
        for (var k = j; k < nb; k++)
        {
            ref var row = ref Unsafe.Add(ref r, (nint)k * stride);
            var t = Vector512.Create(Unsafe.Add(ref b, k));
            y0 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref row), t, y0);
            y1 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref row, 16), t, y1);
            y2 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref row, 32), t, y2);
            y3 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref row, 48), t, y3);
        }
        x0.StoreUnsafe(ref o0);
        x1.StoreUnsafe(ref o0, 16);
        x2.StoreUnsafe(ref o0, 32);
        x3.StoreUnsafe(ref o0, 48);
        if (!two) return;
        y0.StoreUnsafe(ref o1);
        y1.StoreUnsafe(ref o1, 16);
        y2.StoreUnsafe(ref o1, 32);
        y3.StoreUnsafe(ref o1, 48);
    }

    /// <summary>
    /// o = Σ_i p[i]·bf16(r_i) over BF16 rows r_i = rows[i·stride ..][..o.Length] read in place, one FMA per element and row in
    /// order from zero: bit for bit <c>o.Clear()</c> and <see cref="AddScaledBf16"/>(r_i, p[i], o) for each i (widening is
    /// exact), with the partial sums in registers, 64 columns at a time. Absorbed MLA's q_latent = W_UKᵀ·q_nope for a
    /// lone decode row.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void WeightedSumBf16(ReadOnlySpan<float> p, ReadOnlySpan<ushort> rows, int stride, Span<float> o)
    {
        var width = o.Length;
        var n = p.Length;
        if (n > 0 && rows.Length < (n - 1) * stride + width)
            throw new ArgumentException($"{rows.Length} row values for {n} rows of {width} at stride {stride}");
        ref var r = ref MemoryMarshal.GetReference(rows);
        ref var a = ref MemoryMarshal.GetReference(p);
        ref var od = ref MemoryMarshal.GetReference(o);
        var d = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            for (; d + 64 <= width; d += 64)
            {
                Vector512<float> x0 = default, x1 = default, x2 = default, x3 = default;
                for (var i = 0; i < n; i++)
                {
                    ref var row = ref Unsafe.Add(ref r, (nint)i * stride + d);
                    var s = Vector512.Create(Unsafe.Add(ref a, i));
                    var (w0, w1) = Vector512.Widen(Vector512.LoadUnsafe(ref row));
                    var (w2, w3) = Vector512.Widen(Vector512.LoadUnsafe(ref row, 32));
                    x0 = Vector512.FusedMultiplyAdd((w0 << 16).AsSingle(), s, x0);
                    x1 = Vector512.FusedMultiplyAdd((w1 << 16).AsSingle(), s, x1);
                    x2 = Vector512.FusedMultiplyAdd((w2 << 16).AsSingle(), s, x2);
                    x3 = Vector512.FusedMultiplyAdd((w3 << 16).AsSingle(), s, x3);
                }
                x0.StoreUnsafe(ref od, (nuint)d);
                x1.StoreUnsafe(ref od, (nuint)d + 16);
                x2.StoreUnsafe(ref od, (nuint)d + 32);
                x3.StoreUnsafe(ref od, (nuint)d + 48);
            }
        }
        if (Vector256.IsHardwareAccelerated)
        {
            for (; d + 16 <= width; d += 16)
            {
                Vector256<float> x0 = default, x1 = default;
                for (var i = 0; i < n; i++)
                {
                    var s = Vector256.Create(Unsafe.Add(ref a, i));
                    var (w0, w1) = Vector256.Widen(Vector256.LoadUnsafe(ref Unsafe.Add(ref r, (nint)i * stride + d)));
                    x0 = Vector256.FusedMultiplyAdd((w0 << 16).AsSingle(), s, x0);
                    x1 = Vector256.FusedMultiplyAdd((w1 << 16).AsSingle(), s, x1);
                }
                x0.StoreUnsafe(ref od, (nuint)d);
                x1.StoreUnsafe(ref od, (nuint)d + 8);
            }
        }
        for (; d < width; d++)
        {
            float x = 0;
            for (var i = 0; i < n; i++)
                x = MathF.FusedMultiplyAdd(BitConverter.UInt32BitsToSingle((uint)Unsafe.Add(ref r, (nint)i * stride + d) << 16), Unsafe.Add(ref a, i), x);
            o[d] = x;
        }
    }
}
