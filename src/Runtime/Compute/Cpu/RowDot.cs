using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using DeepSeek.Runtime.Tensors;

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
internal static partial class RowDot
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

    /// <summary>
    /// x · w for a bfloat16 weight row, widened in registers (a bfloat16 is the top half of a binary32, so the widening is
    /// exact): bit for bit <see cref="Dot"/> of x and the decoded row, in the same chunk order, without writing the decoded
    /// row anywhere. Decoding into a scratch row and reading it back cost two thirds of a BF16 decode step; streaming each
    /// weight row once, in memory order, is what lets one-token decode run at memory bandwidth.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float DotBf16(ReadOnlySpan<float> x, ReadOnlySpan<ushort> w)
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
                var (lo, hi) = Vector512.Widen(Vector512.LoadUnsafe(ref wr, (nuint)i));   // elements i..i+15, i+16..i+31
                a = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref xr, (nuint)i), (lo << 16).AsSingle(), a);
                b = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref xr, (nuint)i + 16), (hi << 16).AsSingle(), b);
            }
            if (i + 16 <= n)
            {
                var (lo, hi) = Vector256.Widen(Vector256.LoadUnsafe(ref wr, (nuint)i));
                a = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref xr, (nuint)i), (Vector512.Create(lo, hi) << 16).AsSingle(), a);
                i += 16;
            }
            s = Vector512.Sum(a + b);
        }
        else if (Vector256.IsHardwareAccelerated && n >= 8)
        {
            Vector256<float> a = default, b = default;
            for (; i + 16 <= n; i += 16)
            {
                var (lo, hi) = Vector256.Widen(Vector256.LoadUnsafe(ref wr, (nuint)i));
                a = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref xr, (nuint)i), (lo << 16).AsSingle(), a);
                b = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref xr, (nuint)i + 8), (hi << 16).AsSingle(), b);
            }
            if (i + 8 <= n)
            {
                var (lo, hi) = Vector128.Widen(Vector128.LoadUnsafe(ref wr, (nuint)i));
                a = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref xr, (nuint)i), (Vector256.Create(lo, hi) << 16).AsSingle(), a);
                i += 8;
            }
            s = Vector256.Sum(a + b);
        }
        else s = 0f;
        for (; i < n; i++) s = MathF.FusedMultiplyAdd(Unsafe.Add(ref xr, i), BitConverter.UInt32BitsToSingle((uint)Unsafe.Add(ref wr, i) << 16), s);
        return s;
    }

    /// <summary>
    /// x · w for a block-scaled FP8 (E4M3) weight row, decoded and scaled in registers: bit for bit <see cref="Dot"/> of x
    /// and the row <see cref="CpuWeight.DecodeRow"/> produces (code × scale rounded once, then the same chunk order).
    /// <paramref name="scales2p120"/>[b] is block b's scale × 2^120 (columns [b·blockCols, (b+1)·blockCols); blockCols a
    /// multiple of 16, so no vector straddles two blocks).
    /// </summary>
    /// <remarks>
    /// The decode is two integer ops: a sign-extended code shifted left by 20 and masked with 0x87F00000 is a binary32 whose
    /// exponent field holds E4M3's 4 exponent bits and whose top mantissa bits hold its 3: worth the E4M3 value × 2^-120
    /// exactly — normals and subnormals alike (a subnormal code becomes a binary32 subnormal). The scale carries the 2^120
    /// back; since E × 2^-120 × (scale × 2^120) is the real number E × scale, its one rounding is DecodeRow's. NaN codes
    /// (0x7F, 0xFF) are selected to NaN. Callers keep scale below 2^7 so scale × 2^120 stays finite.
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float DotFp8(ReadOnlySpan<float> x, ReadOnlySpan<byte> w, ReadOnlySpan<float> scales2p120, int blockCols)
    {
        Debug.Assert(blockCols % 16 == 0 && w.Length == x.Length);
        ref var xr = ref MemoryMarshal.GetReference(x);
        ref var wr = ref MemoryMarshal.GetReference(w);
        var n = x.Length;
        var i = 0;
        float s;
        if (Vector512.IsHardwareAccelerated && Avx512F.IsSupported && n >= 16)
        {
            Vector512<float> a = default, b = default;
            if (blockCols % 64 == 0 && n >= 64)
            {
                // Block by block, 64 codes per step, each block's scale loaded once and no NaN select: E4M3 NaN codes are
                // only noted (one byte compare per 64 codes) and, if a row has any (real checkpoints have none), it is
                // summed again below with the select. The same values, chunks and order either way.
                i = n & ~63;
                if (!Fp8Blocks(ref xr, ref wr, i, scales2p120, blockCols, ref a, ref b))
                    (a, b, i) = (default, default, 0);
            }
            for (; i + 32 <= n; i += 32)
            {
                a = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref xr, (nuint)i), Fp8x16(ref wr, i, scales2p120, blockCols), a);
                b = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref xr, (nuint)i + 16), Fp8x16(ref wr, i + 16, scales2p120, blockCols), b);
            }
            if (i + 16 <= n)
            {
                a = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref xr, (nuint)i), Fp8x16(ref wr, i, scales2p120, blockCols), a);
                i += 16;
            }
            s = Vector512.Sum(a + b);
        }
        else if (Vector256.IsHardwareAccelerated && n >= 8)
        {
            Vector256<float> a = default, b = default;
            for (; i + 16 <= n; i += 16)
            {
                a = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref xr, (nuint)i), Fp8x8(ref wr, i, scales2p120, blockCols), a);
                b = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref xr, (nuint)i + 8), Fp8x8(ref wr, i + 8, scales2p120, blockCols), b);
            }
            if (i + 8 <= n)
            {
                a = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref xr, (nuint)i), Fp8x8(ref wr, i, scales2p120, blockCols), a);
                i += 8;
            }
            s = Vector256.Sum(a + b);
        }
        else s = 0f;
        for (; i < n; i++)
            s = MathF.FusedMultiplyAdd(Unsafe.Add(ref xr, i), Fp8Scaled(Unsafe.Add(ref wr, i)) * scales2p120[i / blockCols], s);
        return s;
    }

    private const int Fp8Bits = unchecked((int)0x87F0_0000);   // sign, then E4M3's 7 magnitude bits at binary32's exponent/mantissa boundary

    /// <summary>Codes [i, i + 16) decoded (× 2^-120) and scaled (one block: blockCols is a multiple of 16).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Fp8x16(ref byte w, int i, ReadOnlySpan<float> scales2p120, int blockCols)
    {
        var code = Avx512F.ConvertToVector512Int32(Vector128.LoadUnsafe(ref w, (nuint)i).AsSByte());
        var value = ((code << 20) & Vector512.Create(Fp8Bits)).AsSingle();
        value = Vector512.ConditionalSelect(Vector512.Equals(code & Vector512.Create(0x7F), Vector512.Create(0x7F)).AsSingle(), Vector512.Create(float.NaN), value);
        return value * Vector512.Create(scales2p120[i / blockCols]);
    }

    /// <summary>
    /// Adds columns [0, <paramref name="full"/>) (a multiple of 64, blockCols a multiple of 64) to <paramref name="a"/> and
    /// <paramref name="b"/> exactly as <see cref="DotFp8"/>'s general loop would, decoding without the NaN select; false
    /// when some code was a NaN, which that select would have turned into NaN (the caller then sums the row again).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool Fp8Blocks(ref float xr, ref byte wr, int full, ReadOnlySpan<float> scales2p120, int blockCols, ref Vector512<float> a, ref Vector512<float> b)
    {
        var magnitude = Vector512.Create((byte)0x7F);
        var nan = Vector512<byte>.Zero;
        for (var start = 0; start < full; start += blockCols)
        {
            var scale = Vector512.Create(scales2p120[start / blockCols]);
            var end = Math.Min(start + blockCols, full);
            for (var i = start; i < end; i += 64)
            {
                nan |= Vector512.Equals(Vector512.LoadUnsafe(ref wr, (nuint)i) & magnitude, magnitude);
                a = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref xr, (nuint)i), Fp8x16Finite(ref wr, i) * scale, a);
                b = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref xr, (nuint)i + 16), Fp8x16Finite(ref wr, i + 16) * scale, b);
                a = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref xr, (nuint)i + 32), Fp8x16Finite(ref wr, i + 32) * scale, a);
                b = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref xr, (nuint)i + 48), Fp8x16Finite(ref wr, i + 48) * scale, b);
            }
        }
        return nan == Vector512<byte>.Zero;
    }

    /// <summary>Codes [i, i + 16) decoded (× 2^-120), not scaled, for codes known to hold no NaN (0x7F, 0xFF).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Fp8x16Finite(ref byte w, int i) =>
        ((Avx512F.ConvertToVector512Int32(Vector128.LoadUnsafe(ref w, (nuint)i).AsSByte()) << 20) & Vector512.Create(Fp8Bits)).AsSingle();

    /// <summary>Codes [i, i + 8) decoded (× 2^-120) and scaled.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Fp8x8(ref byte w, int i, ReadOnlySpan<float> scales2p120, int blockCols)
    {
        var (lo, _) = Vector128.Widen(Vector128.CreateScalarUnsafe(Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref w, i))).AsSByte());
        var (a, b) = Vector128.Widen(lo);
        var code = Vector256.Create(a, b);
        var value = ((code << 20) & Vector256.Create(Fp8Bits)).AsSingle();
        value = Vector256.ConditionalSelect(Vector256.Equals(code & Vector256.Create(0x7F), Vector256.Create(0x7F)).AsSingle(), Vector256.Create(float.NaN), value);
        return value * Vector256.Create(scales2p120[i / blockCols]);
    }

    /// <summary>One code decoded × 2^-120 (see <see cref="DotFp8"/>).</summary>
    private static float Fp8Scaled(byte code) =>
        (code & 0x7F) == 0x7F ? float.NaN : BitConverter.Int32BitsToSingle(((sbyte)code << 20) & Fp8Bits);

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

    /// <summary>
    /// x0 · w0 … x0 · w3 into r[0..3] and x1 · w0 … x1 · w3 into r[4..7], each exactly as <see cref="Dot"/> computes it:
    /// every weight vector is loaded once for both rows, and the sixteen accumulator chains (and the eight scalar tails)
    /// are independent, so two rows cost little more than one. Two rows of a speculative step, or two cached positions'
    /// queries, go through here; a lone row goes through <see cref="Dot4"/> with the same per-pair order.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Dot4x2(ReadOnlySpan<float> x0, ReadOnlySpan<float> x1, ReadOnlySpan<float> w0, ReadOnlySpan<float> w1, ReadOnlySpan<float> w2, ReadOnlySpan<float> w3, Span<float> r)
    {
        var n = x0.Length;
        if (!Vector512.IsHardwareAccelerated || n < 16)
        {
            Dot4(x0, w0, w1, w2, w3, r);
            Dot4(x1, w0, w1, w2, w3, r[4..]);
            return;
        }
        ref var xr = ref MemoryMarshal.GetReference(x0);
        ref var yr = ref MemoryMarshal.GetReference(x1);
        ref var p0 = ref MemoryMarshal.GetReference(w0);
        ref var p1 = ref MemoryMarshal.GetReference(w1);
        ref var p2 = ref MemoryMarshal.GetReference(w2);
        ref var p3 = ref MemoryMarshal.GetReference(w3);
        var i = 0;
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default, b0 = default, b1 = default, b2 = default, b3 = default;
        Vector512<float> c0 = default, c1 = default, c2 = default, c3 = default, d0 = default, d1 = default, d2 = default, d3 = default;
        for (; i + 32 <= n; i += 32)
        {
            var xa = Vector512.LoadUnsafe(ref xr, (nuint)i);
            var ya = Vector512.LoadUnsafe(ref yr, (nuint)i);
            var w = Vector512.LoadUnsafe(ref p0, (nuint)i);
            a0 = Vector512.FusedMultiplyAdd(xa, w, a0);
            c0 = Vector512.FusedMultiplyAdd(ya, w, c0);
            w = Vector512.LoadUnsafe(ref p1, (nuint)i);
            a1 = Vector512.FusedMultiplyAdd(xa, w, a1);
            c1 = Vector512.FusedMultiplyAdd(ya, w, c1);
            w = Vector512.LoadUnsafe(ref p2, (nuint)i);
            a2 = Vector512.FusedMultiplyAdd(xa, w, a2);
            c2 = Vector512.FusedMultiplyAdd(ya, w, c2);
            w = Vector512.LoadUnsafe(ref p3, (nuint)i);
            a3 = Vector512.FusedMultiplyAdd(xa, w, a3);
            c3 = Vector512.FusedMultiplyAdd(ya, w, c3);
            var xb = Vector512.LoadUnsafe(ref xr, (nuint)i + 16);
            var yb = Vector512.LoadUnsafe(ref yr, (nuint)i + 16);
            w = Vector512.LoadUnsafe(ref p0, (nuint)i + 16);
            b0 = Vector512.FusedMultiplyAdd(xb, w, b0);
            d0 = Vector512.FusedMultiplyAdd(yb, w, d0);
            w = Vector512.LoadUnsafe(ref p1, (nuint)i + 16);
            b1 = Vector512.FusedMultiplyAdd(xb, w, b1);
            d1 = Vector512.FusedMultiplyAdd(yb, w, d1);
            w = Vector512.LoadUnsafe(ref p2, (nuint)i + 16);
            b2 = Vector512.FusedMultiplyAdd(xb, w, b2);
            d2 = Vector512.FusedMultiplyAdd(yb, w, d2);
            w = Vector512.LoadUnsafe(ref p3, (nuint)i + 16);
            b3 = Vector512.FusedMultiplyAdd(xb, w, b3);
            d3 = Vector512.FusedMultiplyAdd(yb, w, d3);
        }
        if (i + 16 <= n)
        {
            var xa = Vector512.LoadUnsafe(ref xr, (nuint)i);
            var ya = Vector512.LoadUnsafe(ref yr, (nuint)i);
            var w = Vector512.LoadUnsafe(ref p0, (nuint)i);
            a0 = Vector512.FusedMultiplyAdd(xa, w, a0);
            c0 = Vector512.FusedMultiplyAdd(ya, w, c0);
            w = Vector512.LoadUnsafe(ref p1, (nuint)i);
            a1 = Vector512.FusedMultiplyAdd(xa, w, a1);
            c1 = Vector512.FusedMultiplyAdd(ya, w, c1);
            w = Vector512.LoadUnsafe(ref p2, (nuint)i);
            a2 = Vector512.FusedMultiplyAdd(xa, w, a2);
            c2 = Vector512.FusedMultiplyAdd(ya, w, c2);
            w = Vector512.LoadUnsafe(ref p3, (nuint)i);
            a3 = Vector512.FusedMultiplyAdd(xa, w, a3);
            c3 = Vector512.FusedMultiplyAdd(ya, w, c3);
            i += 16;
        }
        float s0 = Vector512.Sum(a0 + b0), s1 = Vector512.Sum(a1 + b1), s2 = Vector512.Sum(a2 + b2), s3 = Vector512.Sum(a3 + b3);
        float t0 = Vector512.Sum(c0 + d0), t1 = Vector512.Sum(c1 + d1), t2 = Vector512.Sum(c2 + d2), t3 = Vector512.Sum(c3 + d3);
        for (; i < n; i++)
        {
            var xv = Unsafe.Add(ref xr, i);
            var yv = Unsafe.Add(ref yr, i);
            float q0 = Unsafe.Add(ref p0, i), q1 = Unsafe.Add(ref p1, i), q2 = Unsafe.Add(ref p2, i), q3 = Unsafe.Add(ref p3, i);
            s0 = MathF.FusedMultiplyAdd(xv, q0, s0);
            t0 = MathF.FusedMultiplyAdd(yv, q0, t0);
            s1 = MathF.FusedMultiplyAdd(xv, q1, s1);
            t1 = MathF.FusedMultiplyAdd(yv, q1, t1);
            s2 = MathF.FusedMultiplyAdd(xv, q2, s2);
            t2 = MathF.FusedMultiplyAdd(yv, q2, t2);
            s3 = MathF.FusedMultiplyAdd(xv, q3, s3);
            t3 = MathF.FusedMultiplyAdd(yv, q3, t3);
        }
        r[0] = s0;
        r[1] = s1;
        r[2] = s2;
        r[3] = s3;
        r[4] = t0;
        r[5] = t1;
        r[6] = t2;
        r[7] = t3;
    }

    /// <summary>
    /// Output columns [j0, j1) of x · Wᵀ for one or two rows, with W given transposed (<paramref name="wt"/> is [k, n]:
    /// input i's weights for all n outputs contiguous). Each output is one chain s = fma(x[i], wt[i, j], s) for i = 0 … k-1
    /// from s = 0 — the same in a vector lane or the scalar tail, for one row or two, whatever [j0, j1) — so a result never
    /// depends on the batch or the split. Every weight vector is loaded once for both rows; there are no horizontal sums.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Columns(ReadOnlySpan<float> x0, ReadOnlySpan<float> x1, bool two, ReadOnlySpan<float> wt, int n, int j0, int j1, Span<float> o0, Span<float> o1)
    {
        var k = x0.Length;
        ref var xr = ref MemoryMarshal.GetReference(x0);
        ref var yr = ref MemoryMarshal.GetReference(two ? x1 : x0);
        ref var wr = ref MemoryMarshal.GetReference(wt);
        ref var or0 = ref MemoryMarshal.GetReference(o0);
        ref var or1 = ref MemoryMarshal.GetReference(two ? o1 : o0);
        var j = j0;
        if (Vector256.IsHardwareAccelerated)
        {
            // 32 columns (four vectors) per pass: 4 or 8 independent chains.
            for (; j + 32 <= j1; j += 32)
            {
                Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default, b0 = default, b1 = default, b2 = default, b3 = default;
                ref var col = ref Unsafe.Add(ref wr, j);
                if (two)
                {
                    for (var i = 0; i < k; i++)
                    {
                        ref var line = ref Unsafe.Add(ref col, (nint)i * n);
                        var xv = Vector256.Create(Unsafe.Add(ref xr, i));
                        var yv = Vector256.Create(Unsafe.Add(ref yr, i));
                        var w = Vector256.LoadUnsafe(ref line);
                        a0 = Vector256.FusedMultiplyAdd(xv, w, a0);
                        b0 = Vector256.FusedMultiplyAdd(yv, w, b0);
                        w = Vector256.LoadUnsafe(ref line, 8);
                        a1 = Vector256.FusedMultiplyAdd(xv, w, a1);
                        b1 = Vector256.FusedMultiplyAdd(yv, w, b1);
                        w = Vector256.LoadUnsafe(ref line, 16);
                        a2 = Vector256.FusedMultiplyAdd(xv, w, a2);
                        b2 = Vector256.FusedMultiplyAdd(yv, w, b2);
                        w = Vector256.LoadUnsafe(ref line, 24);
                        a3 = Vector256.FusedMultiplyAdd(xv, w, a3);
                        b3 = Vector256.FusedMultiplyAdd(yv, w, b3);
                    }
                    b0.StoreUnsafe(ref or1, (nuint)j);
                    b1.StoreUnsafe(ref or1, (nuint)j + 8);
                    b2.StoreUnsafe(ref or1, (nuint)j + 16);
                    b3.StoreUnsafe(ref or1, (nuint)j + 24);
                }
                else
                {
                    for (var i = 0; i < k; i++)
                    {
                        ref var line = ref Unsafe.Add(ref col, (nint)i * n);
                        var xv = Vector256.Create(Unsafe.Add(ref xr, i));
                        a0 = Vector256.FusedMultiplyAdd(xv, Vector256.LoadUnsafe(ref line), a0);
                        a1 = Vector256.FusedMultiplyAdd(xv, Vector256.LoadUnsafe(ref line, 8), a1);
                        a2 = Vector256.FusedMultiplyAdd(xv, Vector256.LoadUnsafe(ref line, 16), a2);
                        a3 = Vector256.FusedMultiplyAdd(xv, Vector256.LoadUnsafe(ref line, 24), a3);
                    }
                }
                a0.StoreUnsafe(ref or0, (nuint)j);
                a1.StoreUnsafe(ref or0, (nuint)j + 8);
                a2.StoreUnsafe(ref or0, (nuint)j + 16);
                a3.StoreUnsafe(ref or0, (nuint)j + 24);
            }
            for (; j + 8 <= j1; j += 8)
            {
                Vector256<float> a = default, b = default;
                ref var col = ref Unsafe.Add(ref wr, j);
                for (var i = 0; i < k; i++)
                {
                    var w = Vector256.LoadUnsafe(ref Unsafe.Add(ref col, (nint)i * n));
                    a = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref xr, i)), w, a);
                    if (two) b = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref yr, i)), w, b);
                }
                a.StoreUnsafe(ref or0, (nuint)j);
                if (two) b.StoreUnsafe(ref or1, (nuint)j);
            }
        }
        for (; j < j1; j++)
        {
            float a = 0f, b = 0f;
            for (var i = 0; i < k; i++)
            {
                var w = Unsafe.Add(ref wr, (nint)i * n + j);
                a = MathF.FusedMultiplyAdd(Unsafe.Add(ref xr, i), w, a);
                if (two) b = MathF.FusedMultiplyAdd(Unsafe.Add(ref yr, i), w, b);
            }
            Unsafe.Add(ref or0, j) = a;
            if (two) Unsafe.Add(ref or1, j) = b;
        }
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
