using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace DeepSeek.Runtime.Tensors;

/// <summary>
/// Exact conversions between OCP FP8 E4M3FN codes and <see cref="float"/>: 1 sign bit, 4 exponent bits (bias 7),
/// 3 mantissa bits; exponent 0 holds subnormals (m/8 · 2^-6); there are no infinities, and only 0x7F / 0xFF are
/// NaN, which frees exponent 15 for 256…448. Largest finite value 448 (0x7E), smallest subnormal 2^-9 (0x01).
/// </summary>
/// <remarks>
/// Narrowing rounds to nearest, ties to even, into the subnormals too, and <b>saturates</b>: every finite or
/// infinite value with magnitude above 448 becomes ±448 (0x7E / 0xFE). That is what PyTorch's saturating float8
/// cast and DeepSeek's quantiser (which clamps to ±448 before the cast) produce; the non-saturating OCP mode would
/// give NaN, which a weight or activation never wants. NaN maps to 0x7F (0xFF when its sign bit is set); −0 to 0x80.
/// </remarks>
public static class Float8E4M3Codec
{
    /// <summary>Largest finite E4M3FN value.</summary>
    public const float MaxValue = 448f;

    /// <summary>Code of +448, the value every larger magnitude saturates to.</summary>
    public const byte MaxCode = 0x7E;

    /// <summary>Code of the positive NaN (0xFF is the negative one).</summary>
    public const byte NaNCode = 0x7F;

    private const uint AbsMask = 0x7FFF_FFFF;
    private const uint InfBits = 0x7F80_0000;
    private const uint MaxValueBits = 0x43E0_0000;      // 448f
    private const uint MinNormalBits = 0x3C80_0000;     // 2^-6f
    private const uint ExponentRebias = (127u - 7u) << 23; // float exponent bias minus E4M3 bias, in place
    private const uint SubnormalMagicBits = 0x4680_0000; // 16384f = 2^14: its ulp is 2^-9, the E4M3 subnormal step
    private const float SubnormalMagic = 16384f;
    private const float SubnormalStep = 1f / 512f;      // 2^-9
    private const uint QuietNaNBits = 0x7FC0_0000;

    private static readonly float[] s_decode = BuildDecodeTable();

    /// <summary>The real value of every code, indexed by code (256 entries; 0x7F and 0xFF are NaN).</summary>
    public static ReadOnlySpan<float> DecodeTable => s_decode;

    /// <summary>The real value of <paramref name="code"/> (exact; NaN for 0x7F / 0xFF).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ToSingle(byte code) => Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(s_decode), code);

    /// <summary>
    /// The E4M3FN code nearest to <paramref name="value"/> (ties to even mantissa), saturating to ±448 beyond the
    /// range (see the type remarks); NaN → 0x7F / 0xFF by sign.
    /// </summary>
    public static byte FromSingle(float value)
    {
        var bits = BitConverter.SingleToUInt32Bits(value);
        var sign = (bits >> 24) & 0x80u;
        var abs = bits & AbsMask;
        if (abs > InfBits) return (byte)(sign | NaNCode);
        if (abs >= MaxValueBits) return (byte)(sign | MaxCode);
        if (abs >= MinNormalBits)
        {
            // Rebias the exponent in place; the top 3 of the 23 mantissa bits become E4M3's, and adding
            // 0x7FFFF plus the lowest kept bit rounds the other 20 to nearest even (a carry bumps the exponent).
            var adjusted = abs - ExponentRebias;
            return (byte)(sign | ((adjusted + 0x7FFFFu + ((adjusted >> 20) & 1u)) >> 20));
        }
        // |value| < 2^-6: adding 2^14 (ulp 2^-9) lets the FPU round to a multiple of 2^-9 with ties to even;
        // the result's low bits are then the subnormal mantissa 0..8 (8 is the smallest normal, code 0x08).
        var rounded = BitConverter.SingleToUInt32Bits(BitConverter.UInt32BitsToSingle(abs) + SubnormalMagic) - SubnormalMagicBits;
        Debug.Assert(rounded <= 8);
        return (byte)(sign | rounded);
    }

    /// <summary>Decodes every code of <paramref name="source"/> into <paramref name="destination"/> (vectorised).</summary>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is shorter than <paramref name="source"/>.</exception>
    public static void ToSingle(ReadOnlySpan<byte> source, Span<float> destination) =>
        ToSingle(source, destination, BFloat16Codec.BestVectorBits());

    /// <summary>Encodes every value of <paramref name="source"/> into <paramref name="destination"/>, bit-identical to <see cref="FromSingle(float)"/> (vectorised).</summary>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is shorter than <paramref name="source"/>.</exception>
    public static void FromSingle(ReadOnlySpan<float> source, Span<byte> destination) =>
        FromSingle(source, destination, BFloat16Codec.BestVectorBits());

    /// <summary>Span decode with the vector width forced (512, 256, 128 or 0), so tests can check every path.</summary>
    internal static void ToSingle(ReadOnlySpan<byte> source, Span<float> destination, int vectorBits)
    {
        CheckLengths(source.Length, destination.Length, nameof(destination));
        var n = source.Length;
        ref var src = ref MemoryMarshal.GetReference(source);
        ref var dst = ref Unsafe.As<float, uint>(ref MemoryMarshal.GetReference(destination));
        var i = 0;
        if (vectorBits >= 512)
        {
            for (; i <= n - Vector512<byte>.Count; i += Vector512<byte>.Count)
            {
                var (a, b) = Vector512.Widen(Vector512.LoadUnsafe(ref src, (nuint)i));
                var (c0, c1) = Vector512.Widen(a);
                var (c2, c3) = Vector512.Widen(b);
                const int q = 16; // Vector512<uint>.Count
                Decode(c0).StoreUnsafe(ref dst, (nuint)i);
                Decode(c1).StoreUnsafe(ref dst, (nuint)(i + q));
                Decode(c2).StoreUnsafe(ref dst, (nuint)(i + 2 * q));
                Decode(c3).StoreUnsafe(ref dst, (nuint)(i + 3 * q));
            }
        }
        if (vectorBits >= 256)
        {
            for (; i <= n - Vector256<byte>.Count; i += Vector256<byte>.Count)
            {
                var (a, b) = Vector256.Widen(Vector256.LoadUnsafe(ref src, (nuint)i));
                var (c0, c1) = Vector256.Widen(a);
                var (c2, c3) = Vector256.Widen(b);
                const int q = 8;
                Decode(c0).StoreUnsafe(ref dst, (nuint)i);
                Decode(c1).StoreUnsafe(ref dst, (nuint)(i + q));
                Decode(c2).StoreUnsafe(ref dst, (nuint)(i + 2 * q));
                Decode(c3).StoreUnsafe(ref dst, (nuint)(i + 3 * q));
            }
        }
        if (vectorBits >= 128)
        {
            for (; i <= n - Vector128<byte>.Count; i += Vector128<byte>.Count)
            {
                var (a, b) = Vector128.Widen(Vector128.LoadUnsafe(ref src, (nuint)i));
                var (c0, c1) = Vector128.Widen(a);
                var (c2, c3) = Vector128.Widen(b);
                const int q = 4;
                Decode(c0).StoreUnsafe(ref dst, (nuint)i);
                Decode(c1).StoreUnsafe(ref dst, (nuint)(i + q));
                Decode(c2).StoreUnsafe(ref dst, (nuint)(i + 2 * q));
                Decode(c3).StoreUnsafe(ref dst, (nuint)(i + 3 * q));
            }
        }
        ref var table = ref MemoryMarshal.GetArrayDataReference(s_decode);
        for (; i < n; i++)
            Unsafe.Add(ref dst, i) = BitConverter.SingleToUInt32Bits(Unsafe.Add(ref table, Unsafe.Add(ref src, i)));
    }

    /// <summary>Span encode with the vector width forced (512, 256, 128 or 0), so tests can check every path.</summary>
    internal static void FromSingle(ReadOnlySpan<float> source, Span<byte> destination, int vectorBits)
    {
        CheckLengths(source.Length, destination.Length, nameof(destination));
        var n = source.Length;
        ref var src = ref Unsafe.As<float, uint>(ref MemoryMarshal.GetReference(source));
        ref var dst = ref MemoryMarshal.GetReference(destination);
        var i = 0;
        if (vectorBits >= 512)
        {
            for (; i <= n - Vector512<byte>.Count; i += Vector512<byte>.Count)
            {
                const int q = 16;
                var a = Vector512.Narrow(Encode(Vector512.LoadUnsafe(ref src, (nuint)i)), Encode(Vector512.LoadUnsafe(ref src, (nuint)(i + q))));
                var b = Vector512.Narrow(Encode(Vector512.LoadUnsafe(ref src, (nuint)(i + 2 * q))), Encode(Vector512.LoadUnsafe(ref src, (nuint)(i + 3 * q))));
                Vector512.Narrow(a, b).StoreUnsafe(ref dst, (nuint)i);
            }
        }
        if (vectorBits >= 256)
        {
            for (; i <= n - Vector256<byte>.Count; i += Vector256<byte>.Count)
            {
                const int q = 8;
                var a = Vector256.Narrow(Encode(Vector256.LoadUnsafe(ref src, (nuint)i)), Encode(Vector256.LoadUnsafe(ref src, (nuint)(i + q))));
                var b = Vector256.Narrow(Encode(Vector256.LoadUnsafe(ref src, (nuint)(i + 2 * q))), Encode(Vector256.LoadUnsafe(ref src, (nuint)(i + 3 * q))));
                Vector256.Narrow(a, b).StoreUnsafe(ref dst, (nuint)i);
            }
        }
        if (vectorBits >= 128)
        {
            for (; i <= n - Vector128<byte>.Count; i += Vector128<byte>.Count)
            {
                const int q = 4;
                var a = Vector128.Narrow(Encode(Vector128.LoadUnsafe(ref src, (nuint)i)), Encode(Vector128.LoadUnsafe(ref src, (nuint)(i + q))));
                var b = Vector128.Narrow(Encode(Vector128.LoadUnsafe(ref src, (nuint)(i + 2 * q))), Encode(Vector128.LoadUnsafe(ref src, (nuint)(i + 3 * q))));
                Vector128.Narrow(a, b).StoreUnsafe(ref dst, (nuint)i);
            }
        }
        for (; i < n; i++) Unsafe.Add(ref dst, i) = FromSingle(BitConverter.UInt32BitsToSingle(Unsafe.Add(ref src, i)));
    }

    // Lane-wise decode of codes held in uint lanes, without touching float denormals (which cost microcode assists):
    // normals rebias the exponent in place, subnormals convert m and scale by 2^-9, 0x7F-magnitudes become NaN.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<uint> Decode(Vector512<uint> code)
    {
        var sign = (code & Vector512.Create(0x80u)) << 24;
        var abs = code & Vector512.Create(0x7Fu);
        var normal = (abs << 20) + Vector512.Create(ExponentRebias);
        var sub = (Vector512.ConvertToSingle(abs.AsInt32()) * Vector512.Create(SubnormalStep)).AsUInt32();
        var value = Vector512.ConditionalSelect(Vector512.LessThan(abs, Vector512.Create(8u)), sub, normal);
        value = Vector512.ConditionalSelect(Vector512.Equals(abs, Vector512.Create(0x7Fu)), Vector512.Create(QuietNaNBits), value);
        return value | sign;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<uint> Decode(Vector256<uint> code)
    {
        var sign = (code & Vector256.Create(0x80u)) << 24;
        var abs = code & Vector256.Create(0x7Fu);
        var normal = (abs << 20) + Vector256.Create(ExponentRebias);
        var sub = (Vector256.ConvertToSingle(abs.AsInt32()) * Vector256.Create(SubnormalStep)).AsUInt32();
        var value = Vector256.ConditionalSelect(Vector256.LessThan(abs, Vector256.Create(8u)), sub, normal);
        value = Vector256.ConditionalSelect(Vector256.Equals(abs, Vector256.Create(0x7Fu)), Vector256.Create(QuietNaNBits), value);
        return value | sign;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<uint> Decode(Vector128<uint> code)
    {
        var sign = (code & Vector128.Create(0x80u)) << 24;
        var abs = code & Vector128.Create(0x7Fu);
        var normal = (abs << 20) + Vector128.Create(ExponentRebias);
        var sub = (Vector128.ConvertToSingle(abs.AsInt32()) * Vector128.Create(SubnormalStep)).AsUInt32();
        var value = Vector128.ConditionalSelect(Vector128.LessThan(abs, Vector128.Create(8u)), sub, normal);
        value = Vector128.ConditionalSelect(Vector128.Equals(abs, Vector128.Create(0x7Fu)), Vector128.Create(QuietNaNBits), value);
        return value | sign;
    }

    // Lane-wise FromSingle(float): the code sits in the low 8 bits of each lane.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<uint> Encode(Vector512<uint> bits)
    {
        var sign = (bits >> 24) & Vector512.Create(0x80u);
        var abs = bits & Vector512.Create(AbsMask);
        var adjusted = abs - Vector512.Create(ExponentRebias);
        var normal = (adjusted + Vector512.Create(0x7FFFFu) + ((adjusted >> 20) & Vector512<uint>.One)) >> 20;
        var sub = (Vector512.Create(SubnormalMagic) + abs.AsSingle()).AsUInt32() - Vector512.Create(SubnormalMagicBits);
        var code = Vector512.ConditionalSelect(Vector512.GreaterThanOrEqual(abs, Vector512.Create(MinNormalBits)), normal, sub);
        code = Vector512.ConditionalSelect(Vector512.GreaterThanOrEqual(abs, Vector512.Create(MaxValueBits)), Vector512.Create((uint)MaxCode), code);
        code = Vector512.ConditionalSelect(Vector512.GreaterThan(abs, Vector512.Create(InfBits)), Vector512.Create((uint)NaNCode), code);
        return code | sign;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<uint> Encode(Vector256<uint> bits)
    {
        var sign = (bits >> 24) & Vector256.Create(0x80u);
        var abs = bits & Vector256.Create(AbsMask);
        var adjusted = abs - Vector256.Create(ExponentRebias);
        var normal = (adjusted + Vector256.Create(0x7FFFFu) + ((adjusted >> 20) & Vector256<uint>.One)) >> 20;
        var sub = (Vector256.Create(SubnormalMagic) + abs.AsSingle()).AsUInt32() - Vector256.Create(SubnormalMagicBits);
        var code = Vector256.ConditionalSelect(Vector256.GreaterThanOrEqual(abs, Vector256.Create(MinNormalBits)), normal, sub);
        code = Vector256.ConditionalSelect(Vector256.GreaterThanOrEqual(abs, Vector256.Create(MaxValueBits)), Vector256.Create((uint)MaxCode), code);
        code = Vector256.ConditionalSelect(Vector256.GreaterThan(abs, Vector256.Create(InfBits)), Vector256.Create((uint)NaNCode), code);
        return code | sign;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<uint> Encode(Vector128<uint> bits)
    {
        var sign = (bits >> 24) & Vector128.Create(0x80u);
        var abs = bits & Vector128.Create(AbsMask);
        var adjusted = abs - Vector128.Create(ExponentRebias);
        var normal = (adjusted + Vector128.Create(0x7FFFFu) + ((adjusted >> 20) & Vector128<uint>.One)) >> 20;
        var sub = (Vector128.Create(SubnormalMagic) + abs.AsSingle()).AsUInt32() - Vector128.Create(SubnormalMagicBits);
        var code = Vector128.ConditionalSelect(Vector128.GreaterThanOrEqual(abs, Vector128.Create(MinNormalBits)), normal, sub);
        code = Vector128.ConditionalSelect(Vector128.GreaterThanOrEqual(abs, Vector128.Create(MaxValueBits)), Vector128.Create((uint)MaxCode), code);
        code = Vector128.ConditionalSelect(Vector128.GreaterThan(abs, Vector128.Create(InfBits)), Vector128.Create((uint)NaNCode), code);
        return code | sign;
    }

    private static float[] BuildDecodeTable()
    {
        var table = new float[256];
        for (var code = 0; code < 256; code++)
        {
            var sign = (uint)(code & 0x80) << 24;
            var exponent = (code >> 3) & 0xF;
            var mantissa = code & 0x7;
            uint magnitude;
            if (exponent == 0xF && mantissa == 0x7) magnitude = QuietNaNBits;
            else if (exponent == 0) magnitude = BitConverter.SingleToUInt32Bits(mantissa * SubnormalStep);     // m/8 · 2^-6
            else magnitude = ((uint)(exponent + 120) << 23) | ((uint)mantissa << 20);                        // (1 + m/8) · 2^(e-7)
            // Built from bits so the NaNs carry the code's sign (float.NaN itself has the sign bit set on .NET).
            table[code] = BitConverter.UInt32BitsToSingle(sign | magnitude);
        }
        return table;
    }

    private static void CheckLengths(int sourceLength, int destinationLength, string paramName)
    {
        if (destinationLength < sourceLength)
            throw new ArgumentException($"destination holds {destinationLength} elements; expected at least {sourceLength} (the source length)", paramName);
    }
}
