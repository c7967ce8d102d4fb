using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace DeepSeek.Runtime.Compute.Cpu;

/// <summary>
/// Several token rows against a pair of weight rows read in place (BF16 or block-scaled FP8): each weight vector is loaded
/// and widened/decoded in registers once per group of up to four token rows and multiply-added into every row's
/// accumulators. A batched decode step thus streams its weights once, as one-token decode does, instead of decoding rows to
/// a scratch buffer and reading them back (which ran batch 8 at 1.5× batch 1). Each (token, weight row) result is bit for
/// bit <see cref="Dot"/> of the token row and the decoded weight row: per pair the same two accumulators over alternating
/// 16-float chunks, the same reduction, the same scalar FMA tail.
/// </summary>
internal static partial class RowDot
{
    /// <summary>
    /// r[2t + k] = x_t · w_k for token rows t &lt; <paramref name="rows"/> (x_t = <paramref name="x"/>[t·stride ..][..n]) and
    /// bfloat16 weight rows w0, w1 (n values each).
    /// </summary>
    public static unsafe void Bf16Rows(ReadOnlySpan<float> x, int stride, int rows, ReadOnlySpan<ushort> w0, ReadOnlySpan<ushort> w1, Span<float> r)
    {
        var n = w0.Length;
        Debug.Assert(w1.Length == n && r.Length >= 2 * rows && (rows == 0 || x.Length >= (rows - 1) * stride + n));
        if (!Vector512.IsHardwareAccelerated || !Avx512F.IsSupported || n < 16)
        {
            // Short rows, or no AVX-512: the one-row kernel per pair (its Vector256 path), each weight row re-read from L1.
            for (var t = 0; t < rows; t++)
            {
                var xt = x.Slice(t * stride, n);
                r[2 * t] = DotBf16(xt, w0);
                r[2 * t + 1] = DotBf16(xt, w1);
            }
            return;
        }
        fixed (float* xp = x)
        fixed (ushort* p0 = w0, p1 = w1)
        fixed (float* rp = r)
            Groups(new Bf16Pair(p0, p1), xp, stride, rows, n, rp);
    }

    /// <summary>
    /// r[2t + k] = x_t · w_k for block-scaled FP8 weight rows: codes <paramref name="w0"/>, <paramref name="w1"/> with their
    /// block scales × 2^120 (see <see cref="DotFp8"/>; <paramref name="blockCols"/> a multiple of 16).
    /// </summary>
    public static unsafe void Fp8Rows(ReadOnlySpan<float> x, int stride, int rows, ReadOnlySpan<byte> w0, ReadOnlySpan<float> scales0,
        ReadOnlySpan<byte> w1, ReadOnlySpan<float> scales1, int blockCols, Span<float> r)
    {
        var n = w0.Length;
        Debug.Assert(w1.Length == n && r.Length >= 2 * rows && blockCols % 16 == 0 && (rows == 0 || x.Length >= (rows - 1) * stride + n));
        if (!Vector512.IsHardwareAccelerated || !Avx512F.IsSupported || n < 16)
        {
            for (var t = 0; t < rows; t++)
            {
                var xt = x.Slice(t * stride, n);
                r[2 * t] = DotFp8(xt, w0, scales0, blockCols);
                r[2 * t + 1] = DotFp8(xt, w1, scales1, blockCols);
            }
            return;
        }
        fixed (float* xp = x)
        fixed (byte* p0 = w0, p1 = w1)
        fixed (float* s0 = scales0, s1 = scales1)
        fixed (float* rp = r)
            Groups(new Fp8Pair(p0, p1, s0, s1, blockCols), xp, stride, rows, n, rp);
    }

    /// <summary>Token rows in groups of four (the last group 1–3), each group one pass over the weight pair (from L1 after the first).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Groups<TW>(TW w, float* x, int stride, int rows, int n, float* r) where TW : struct, IWeightPair
    {
        var t = 0;
        for (; t + 4 <= rows; t += 4) Pair<TW, Four>(w, x + (nint)t * stride, stride, n, r + 2 * t);
        switch (rows - t)
        {
            case 1: Pair<TW, One>(w, x + (nint)t * stride, stride, n, r + 2 * t); break;
            case 2: Pair<TW, Two>(w, x + (nint)t * stride, stride, n, r + 2 * t); break;
            case 3: Pair<TW, Three>(w, x + (nint)t * stride, stride, n, r + 2 * t); break;
        }
    }

    /// <summary>
    /// TN.Count (1–4) token rows × two weight rows: 2·TN.Count accumulator pairs (at most 16 registers), each weight vector
    /// decoded once and applied to every row. TN is a struct so the JIT compiles one body per count without the unused rows.
    /// Requires AVX-512 and n ≥ 16, so the order is <see cref="Dot"/>'s Vector512 path.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Pair<TW, TN>(TW w, float* x0, int stride, int n, float* r) where TW : struct, IWeightPair where TN : struct, IRowCount
    {
        var x1 = x0 + stride;
        var x2 = x1 + stride;
        var x3 = x2 + stride;
        Vector512<float> a00 = default, a01 = default, a10 = default, a11 = default, a20 = default, a21 = default, a30 = default, a31 = default;
        Vector512<float> b00 = default, b01 = default, b10 = default, b11 = default, b20 = default, b21 = default, b30 = default, b31 = default;
        var i = 0;
        for (; i + 32 <= n; i += 32)
        {
            var u0 = w.Row0(i);
            var u1 = w.Row1(i);
            var v = Vector512.Load(x0 + i);
            a00 = Vector512.FusedMultiplyAdd(v, u0, a00);
            a01 = Vector512.FusedMultiplyAdd(v, u1, a01);
            if (TN.Count > 1)
            {
                v = Vector512.Load(x1 + i);
                a10 = Vector512.FusedMultiplyAdd(v, u0, a10);
                a11 = Vector512.FusedMultiplyAdd(v, u1, a11);
            }
            if (TN.Count > 2)
            {
                v = Vector512.Load(x2 + i);
                a20 = Vector512.FusedMultiplyAdd(v, u0, a20);
                a21 = Vector512.FusedMultiplyAdd(v, u1, a21);
            }
            if (TN.Count > 3)
            {
                v = Vector512.Load(x3 + i);
                a30 = Vector512.FusedMultiplyAdd(v, u0, a30);
                a31 = Vector512.FusedMultiplyAdd(v, u1, a31);
            }
            u0 = w.Row0(i + 16);
            u1 = w.Row1(i + 16);
            v = Vector512.Load(x0 + i + 16);
            b00 = Vector512.FusedMultiplyAdd(v, u0, b00);
            b01 = Vector512.FusedMultiplyAdd(v, u1, b01);
            if (TN.Count > 1)
            {
                v = Vector512.Load(x1 + i + 16);
                b10 = Vector512.FusedMultiplyAdd(v, u0, b10);
                b11 = Vector512.FusedMultiplyAdd(v, u1, b11);
            }
            if (TN.Count > 2)
            {
                v = Vector512.Load(x2 + i + 16);
                b20 = Vector512.FusedMultiplyAdd(v, u0, b20);
                b21 = Vector512.FusedMultiplyAdd(v, u1, b21);
            }
            if (TN.Count > 3)
            {
                v = Vector512.Load(x3 + i + 16);
                b30 = Vector512.FusedMultiplyAdd(v, u0, b30);
                b31 = Vector512.FusedMultiplyAdd(v, u1, b31);
            }
        }
        if (i + 16 <= n)
        {
            var u0 = w.Row0(i);
            var u1 = w.Row1(i);
            var v = Vector512.Load(x0 + i);
            a00 = Vector512.FusedMultiplyAdd(v, u0, a00);
            a01 = Vector512.FusedMultiplyAdd(v, u1, a01);
            if (TN.Count > 1)
            {
                v = Vector512.Load(x1 + i);
                a10 = Vector512.FusedMultiplyAdd(v, u0, a10);
                a11 = Vector512.FusedMultiplyAdd(v, u1, a11);
            }
            if (TN.Count > 2)
            {
                v = Vector512.Load(x2 + i);
                a20 = Vector512.FusedMultiplyAdd(v, u0, a20);
                a21 = Vector512.FusedMultiplyAdd(v, u1, a21);
            }
            if (TN.Count > 3)
            {
                v = Vector512.Load(x3 + i);
                a30 = Vector512.FusedMultiplyAdd(v, u0, a30);
                a31 = Vector512.FusedMultiplyAdd(v, u1, a31);
            }
            i += 16;
        }
        float s00 = Vector512.Sum(a00 + b00), s01 = Vector512.Sum(a01 + b01);
        float s10 = TN.Count > 1 ? Vector512.Sum(a10 + b10) : 0f, s11 = TN.Count > 1 ? Vector512.Sum(a11 + b11) : 0f;
        float s20 = TN.Count > 2 ? Vector512.Sum(a20 + b20) : 0f, s21 = TN.Count > 2 ? Vector512.Sum(a21 + b21) : 0f;
        float s30 = TN.Count > 3 ? Vector512.Sum(a30 + b30) : 0f, s31 = TN.Count > 3 ? Vector512.Sum(a31 + b31) : 0f;
        for (; i < n; i++)
        {
            float q0 = w.Scalar0(i), q1 = w.Scalar1(i);
            s00 = MathF.FusedMultiplyAdd(x0[i], q0, s00);
            s01 = MathF.FusedMultiplyAdd(x0[i], q1, s01);
            if (TN.Count > 1)
            {
                s10 = MathF.FusedMultiplyAdd(x1[i], q0, s10);
                s11 = MathF.FusedMultiplyAdd(x1[i], q1, s11);
            }
            if (TN.Count > 2)
            {
                s20 = MathF.FusedMultiplyAdd(x2[i], q0, s20);
                s21 = MathF.FusedMultiplyAdd(x2[i], q1, s21);
            }
            if (TN.Count > 3)
            {
                s30 = MathF.FusedMultiplyAdd(x3[i], q0, s30);
                s31 = MathF.FusedMultiplyAdd(x3[i], q1, s31);
            }
        }
        r[0] = s00;
        r[1] = s01;
        if (TN.Count > 1) (r[2], r[3]) = (s10, s11);
        if (TN.Count > 2) (r[4], r[5]) = (s20, s21);
        if (TN.Count > 3) (r[6], r[7]) = (s30, s31);
    }

    /// <summary>Two weight rows read in place: 16 values from column i decoded to fp32 in registers, or one value.</summary>
    private interface IWeightPair
    {
        Vector512<float> Row0(int i);
        Vector512<float> Row1(int i);
        float Scalar0(int i);
        float Scalar1(int i);
    }

    /// <summary>Token rows per pass, a compile-time constant for each struct.</summary>
    private interface IRowCount
    {
        static abstract int Count { get; }
    }

    private struct One : IRowCount { public static int Count => 1; }
    private struct Two : IRowCount { public static int Count => 2; }
    private struct Three : IRowCount { public static int Count => 3; }
    private struct Four : IRowCount { public static int Count => 4; }

    /// <summary>bfloat16 rows: zero-extend and shift into the top half of a binary32 (exact, as in <see cref="DotBf16"/>).</summary>
    private readonly unsafe struct Bf16Pair(ushort* p0, ushort* p1) : IWeightPair
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector512<float> Row0(int i) => (Avx512F.ConvertToVector512Int32(Vector256.Load(p0 + i)) << 16).AsSingle();

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector512<float> Row1(int i) => (Avx512F.ConvertToVector512Int32(Vector256.Load(p1 + i)) << 16).AsSingle();

        public float Scalar0(int i) => BitConverter.UInt32BitsToSingle((uint)p0[i] << 16);

        public float Scalar1(int i) => BitConverter.UInt32BitsToSingle((uint)p1[i] << 16);
    }

    /// <summary>Block-scaled E4M3 rows: <see cref="DotFp8"/>'s shift-and-mask decode and one rounding by scale × 2^120.</summary>
    private readonly unsafe struct Fp8Pair(byte* p0, byte* p1, float* s0, float* s1, int blockCols) : IWeightPair
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector512<float> Row0(int i) => Decode(p0, i) * Vector512.Create(s0[i / blockCols]);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector512<float> Row1(int i) => Decode(p1, i) * Vector512.Create(s1[i / blockCols]);

        public float Scalar0(int i) => Fp8Scaled(p0[i]) * s0[i / blockCols];

        public float Scalar1(int i) => Fp8Scaled(p1[i]) * s1[i / blockCols];

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static Vector512<float> Decode(byte* p, int i)
        {
            var code = Avx512F.ConvertToVector512Int32(Vector128.Load((sbyte*)p + i));
            var value = ((code << 20) & Vector512.Create(Fp8Bits)).AsSingle();
            return Vector512.ConditionalSelect(Vector512.Equals(code & Vector512.Create(0x7F), Vector512.Create(0x7F)).AsSingle(), Vector512.Create(float.NaN), value);
        }
    }
}
