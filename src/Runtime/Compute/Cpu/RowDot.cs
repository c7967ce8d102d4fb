using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace DeepSeek.Runtime.Compute.Cpu;

/// <summary>
/// Dot products of one activation row with weight rows, the inner loop of <see cref="CpuBackend.MatMul"/>. At decode
/// sizes a <c>TensorPrimitives.Dot</c> call per (token, weight row) pays more in call overhead than in arithmetic;
/// <see cref="Dot4"/> does four weight rows per pass, reusing each activation load and running four independent
/// accumulator chains. Every pair (x, w) is summed in one fixed order — two vector accumulators over alternating
/// chunks, added, reduced, then the scalar tail by FMA — in <see cref="Dot"/> and in each lane of <see cref="Dot4"/>,
/// so a result never depends on how rows were grouped, split over threads, or batched with other tokens.
/// Kernels here and in <see cref="CpuBackend"/> are <see cref="MethodImplOptions.AggressiveOptimization"/>: tier-0 code
/// runs vector intrinsics as calls, many times slower, and a short generation would finish before tier-up.
/// </summary>
internal static class RowDot
{
    /// <summary>x · w (equal lengths).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining | MethodImplOptions.AggressiveOptimization)]
    public static float Dot(ReadOnlySpan<float> x, ReadOnlySpan<float> w)
    {
        ref var xr = ref MemoryMarshal.GetReference(x);
        ref var wr = ref MemoryMarshal.GetReference(w);
        var n = x.Length;
        var i = 0;
        float s;
        if (Vector512.IsHardwareAccelerated && n >= 16)
        {
            Vector512<float> a = default, b = default;
            for (; i + 32 <= n; i += 32)
            {
                a = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref xr, (nuint)i), Vector512.LoadUnsafe(ref wr, (nuint)i), a);
                b = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref xr, (nuint)i + 16), Vector512.LoadUnsafe(ref wr, (nuint)i + 16), b);
            }
            if (i + 16 <= n)
            {
                a = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref xr, (nuint)i), Vector512.LoadUnsafe(ref wr, (nuint)i), a);
                i += 16;
            }
            s = Vector512.Sum(a + b);
        }
        else if (Vector256.IsHardwareAccelerated && n >= 8)
        {
            Vector256<float> a = default, b = default;
            for (; i + 16 <= n; i += 16)
            {
                a = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref xr, (nuint)i), Vector256.LoadUnsafe(ref wr, (nuint)i), a);
                b = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref xr, (nuint)i + 8), Vector256.LoadUnsafe(ref wr, (nuint)i + 8), b);
            }
            if (i + 8 <= n)
            {
                a = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref xr, (nuint)i), Vector256.LoadUnsafe(ref wr, (nuint)i), a);
                i += 8;
            }
            s = Vector256.Sum(a + b);
        }
        else s = 0f;
        for (; i < n; i++) s = MathF.FusedMultiplyAdd(Unsafe.Add(ref xr, i), Unsafe.Add(ref wr, i), s);
        return s;
    }

    /// <summary>x · w0 … x · w3 into r[0..3], each exactly as <see cref="Dot"/> computes it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Dot4(ReadOnlySpan<float> x, ReadOnlySpan<float> w0, ReadOnlySpan<float> w1, ReadOnlySpan<float> w2, ReadOnlySpan<float> w3, Span<float> r)
    {
        ref var xr = ref MemoryMarshal.GetReference(x);
        ref var p0 = ref MemoryMarshal.GetReference(w0);
        ref var p1 = ref MemoryMarshal.GetReference(w1);
        ref var p2 = ref MemoryMarshal.GetReference(w2);
        ref var p3 = ref MemoryMarshal.GetReference(w3);
        var n = x.Length;
        var i = 0;
        float s0, s1, s2, s3;
        if (Vector512.IsHardwareAccelerated && n >= 16)
        {
            Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default, b0 = default, b1 = default, b2 = default, b3 = default;
            for (; i + 32 <= n; i += 32)
            {
                var xa = Vector512.LoadUnsafe(ref xr, (nuint)i);
                var xb = Vector512.LoadUnsafe(ref xr, (nuint)i + 16);
                a0 = Vector512.FusedMultiplyAdd(xa, Vector512.LoadUnsafe(ref p0, (nuint)i), a0);
                a1 = Vector512.FusedMultiplyAdd(xa, Vector512.LoadUnsafe(ref p1, (nuint)i), a1);
                a2 = Vector512.FusedMultiplyAdd(xa, Vector512.LoadUnsafe(ref p2, (nuint)i), a2);
                a3 = Vector512.FusedMultiplyAdd(xa, Vector512.LoadUnsafe(ref p3, (nuint)i), a3);
                b0 = Vector512.FusedMultiplyAdd(xb, Vector512.LoadUnsafe(ref p0, (nuint)i + 16), b0);
                b1 = Vector512.FusedMultiplyAdd(xb, Vector512.LoadUnsafe(ref p1, (nuint)i + 16), b1);
                b2 = Vector512.FusedMultiplyAdd(xb, Vector512.LoadUnsafe(ref p2, (nuint)i + 16), b2);
                b3 = Vector512.FusedMultiplyAdd(xb, Vector512.LoadUnsafe(ref p3, (nuint)i + 16), b3);
            }
            if (i + 16 <= n)
            {
                var xa = Vector512.LoadUnsafe(ref xr, (nuint)i);
                a0 = Vector512.FusedMultiplyAdd(xa, Vector512.LoadUnsafe(ref p0, (nuint)i), a0);
                a1 = Vector512.FusedMultiplyAdd(xa, Vector512.LoadUnsafe(ref p1, (nuint)i), a1);
                a2 = Vector512.FusedMultiplyAdd(xa, Vector512.LoadUnsafe(ref p2, (nuint)i), a2);
                a3 = Vector512.FusedMultiplyAdd(xa, Vector512.LoadUnsafe(ref p3, (nuint)i), a3);
                i += 16;
            }
            (s0, s1, s2, s3) = (Vector512.Sum(a0 + b0), Vector512.Sum(a1 + b1), Vector512.Sum(a2 + b2), Vector512.Sum(a3 + b3));
        }
        else if (Vector256.IsHardwareAccelerated && n >= 8)
        {
            Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default, b0 = default, b1 = default, b2 = default, b3 = default;
            for (; i + 16 <= n; i += 16)
            {
                var xa = Vector256.LoadUnsafe(ref xr, (nuint)i);
                var xb = Vector256.LoadUnsafe(ref xr, (nuint)i + 8);
                a0 = Vector256.FusedMultiplyAdd(xa, Vector256.LoadUnsafe(ref p0, (nuint)i), a0);
                a1 = Vector256.FusedMultiplyAdd(xa, Vector256.LoadUnsafe(ref p1, (nuint)i), a1);
                a2 = Vector256.FusedMultiplyAdd(xa, Vector256.LoadUnsafe(ref p2, (nuint)i), a2);
                a3 = Vector256.FusedMultiplyAdd(xa, Vector256.LoadUnsafe(ref p3, (nuint)i), a3);
                b0 = Vector256.FusedMultiplyAdd(xb, Vector256.LoadUnsafe(ref p0, (nuint)i + 8), b0);
                b1 = Vector256.FusedMultiplyAdd(xb, Vector256.LoadUnsafe(ref p1, (nuint)i + 8), b1);
                b2 = Vector256.FusedMultiplyAdd(xb, Vector256.LoadUnsafe(ref p2, (nuint)i + 8), b2);
                b3 = Vector256.FusedMultiplyAdd(xb, Vector256.LoadUnsafe(ref p3, (nuint)i + 8), b3);
            }
            if (i + 8 <= n)
            {
                var xa = Vector256.LoadUnsafe(ref xr, (nuint)i);
                a0 = Vector256.FusedMultiplyAdd(xa, Vector256.LoadUnsafe(ref p0, (nuint)i), a0);
                a1 = Vector256.FusedMultiplyAdd(xa, Vector256.LoadUnsafe(ref p1, (nuint)i), a1);
                a2 = Vector256.FusedMultiplyAdd(xa, Vector256.LoadUnsafe(ref p2, (nuint)i), a2);
                a3 = Vector256.FusedMultiplyAdd(xa, Vector256.LoadUnsafe(ref p3, (nuint)i), a3);
                i += 8;
            }
            (s0, s1, s2, s3) = (Vector256.Sum(a0 + b0), Vector256.Sum(a1 + b1), Vector256.Sum(a2 + b2), Vector256.Sum(a3 + b3));
        }
        else (s0, s1, s2, s3) = (0f, 0f, 0f, 0f);
        for (; i < n; i++)
        {
            var xv = Unsafe.Add(ref xr, i);
            s0 = MathF.FusedMultiplyAdd(xv, Unsafe.Add(ref p0, i), s0);
            s1 = MathF.FusedMultiplyAdd(xv, Unsafe.Add(ref p1, i), s1);
            s2 = MathF.FusedMultiplyAdd(xv, Unsafe.Add(ref p2, i), s2);
            s3 = MathF.FusedMultiplyAdd(xv, Unsafe.Add(ref p3, i), s3);
        }
        r[0] = s0;
        r[1] = s1;
        r[2] = s2;
        r[3] = s3;
    }

    /// <summary>acc[i] = fma(v[i], s, acc[i]) (equal lengths): the weighted sums of attention.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void AddScaled(ReadOnlySpan<float> v, float s, Span<float> acc)
    {
        ref var vr = ref MemoryMarshal.GetReference(v);
        ref var ar = ref MemoryMarshal.GetReference(acc);
        var n = v.Length;
        var i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var sv = Vector512.Create(s);
            for (; i + 16 <= n; i += 16)
                Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref vr, (nuint)i), sv, Vector512.LoadUnsafe(ref ar, (nuint)i)).StoreUnsafe(ref ar, (nuint)i);
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            var sv = Vector256.Create(s);
            for (; i + 8 <= n; i += 8)
                Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref vr, (nuint)i), sv, Vector256.LoadUnsafe(ref ar, (nuint)i)).StoreUnsafe(ref ar, (nuint)i);
        }
        for (; i < n; i++) Unsafe.Add(ref ar, i) = MathF.FusedMultiplyAdd(Unsafe.Add(ref vr, i), s, Unsafe.Add(ref ar, i));
    }
}
