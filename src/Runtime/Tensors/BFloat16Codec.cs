using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace DeepSeek.Runtime.Tensors;

/// <summary>
/// Exact conversions between bfloat16 bit patterns (held as <see cref="ushort"/>) and <see cref="float"/>.
/// bfloat16 is the top half of a binary32, so widening is a 16-bit shift and narrowing is IEEE round-to-nearest-even
/// on the dropped 16 bits. The span overloads are vectorised (Vector512/256/128, scalar tail) and bit-identical
/// to the scalar ones.
/// </summary>
public static class BFloat16Codec
{
    /// <summary>Bit pattern of bfloat16 positive infinity.</summary>
    public const ushort PositiveInfinityBits = 0x7F80;

    /// <summary>Bit pattern of bfloat16 negative infinity.</summary>
    public const ushort NegativeInfinityBits = 0xFF80;

    // NaN: exponent all ones, mantissa non-zero. Quiet bit of a bf16 NaN is bit 6.
    private const uint AbsMask = 0x7FFF_FFFF;
    private const uint InfBits = 0x7F80_0000;
    private const uint QuietBit = 0x0040;

    /// <summary>Widens a bfloat16 to a binary32; exact (the bits shifted up by 16), NaN payloads included.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ToSingle(ushort bits) => BitConverter.UInt32BitsToSingle((uint)bits << 16);

    /// <summary>
    /// Narrows a binary32 to bfloat16 with round-to-nearest-even, as IEEE 754 and PyTorch do: finite values past
    /// the largest bfloat16 round to ±infinity, ±infinity stays, subnormals round like any other value, and NaN
    /// stays NaN (made quiet, sign and upper payload kept — plain truncation could turn a low-payload NaN into infinity).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort FromSingle(float value)
    {
        var bits = BitConverter.SingleToUInt32Bits(value);
        if ((bits & AbsMask) > InfBits) return (ushort)((bits >> 16) | QuietBit);
        // Adding 0x7FFF plus the lowest kept bit rounds halfway cases to the even result; a carry into the
        // exponent is exactly the IEEE behaviour (including rounding the largest finite values up to infinity).
        return (ushort)((bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16);
    }

    /// <summary>Widens every element of <paramref name="source"/> into <paramref name="destination"/>.</summary>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is shorter than <paramref name="source"/>.</exception>
    public static void ToSingle(ReadOnlySpan<ushort> source, Span<float> destination) =>
        ToSingle(source, destination, BestVectorBits());

    /// <summary>Narrows every element of <paramref name="source"/> into <paramref name="destination"/>, bit-identical to <see cref="FromSingle(float)"/>.</summary>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is shorter than <paramref name="source"/>.</exception>
    public static void FromSingle(ReadOnlySpan<float> source, Span<ushort> destination) =>
        FromSingle(source, destination, BestVectorBits());

    /// <summary>The widest vector width (512, 256, 128 or 0 for scalar) the hardware accelerates.</summary>
    internal static int BestVectorBits() =>
        Vector512.IsHardwareAccelerated ? 512 : Vector256.IsHardwareAccelerated ? 256 : Vector128.IsHardwareAccelerated ? 128 : 0;

    /// <summary>
    /// <see cref="ToSingle(ReadOnlySpan{ushort}, Span{float})"/> with the vector width forced, so tests can hold
    /// every path to the scalar one on any machine (unaccelerated widths run in software, still correctly).
    /// </summary>
    internal static void ToSingle(ReadOnlySpan<ushort> source, Span<float> destination, int vectorBits)
    {
        CheckLengths(source.Length, destination.Length, nameof(destination));
        var n = source.Length;
        ref var src = ref MemoryMarshal.GetReference(source);
        ref var dst = ref Unsafe.As<float, uint>(ref MemoryMarshal.GetReference(destination));
        var i = 0;
        if (vectorBits >= 512)
        {
            for (; i <= n - Vector512<ushort>.Count; i += Vector512<ushort>.Count)
            {
                var (lo, hi) = Vector512.Widen(Vector512.LoadUnsafe(ref src, (nuint)i));
                (lo << 16).StoreUnsafe(ref dst, (nuint)i);
                (hi << 16).StoreUnsafe(ref dst, (nuint)(i + Vector512<uint>.Count));
            }
        }
        if (vectorBits >= 256)
        {
            for (; i <= n - Vector256<ushort>.Count; i += Vector256<ushort>.Count)
            {
                var (lo, hi) = Vector256.Widen(Vector256.LoadUnsafe(ref src, (nuint)i));
                (lo << 16).StoreUnsafe(ref dst, (nuint)i);
                (hi << 16).StoreUnsafe(ref dst, (nuint)(i + Vector256<uint>.Count));
            }
        }
        if (vectorBits >= 128)
        {
            for (; i <= n - Vector128<ushort>.Count; i += Vector128<ushort>.Count)
            {
                var (lo, hi) = Vector128.Widen(Vector128.LoadUnsafe(ref src, (nuint)i));
                (lo << 16).StoreUnsafe(ref dst, (nuint)i);
                (hi << 16).StoreUnsafe(ref dst, (nuint)(i + Vector128<uint>.Count));
            }
        }
        for (; i < n; i++) Unsafe.Add(ref dst, i) = (uint)Unsafe.Add(ref src, i) << 16;
    }

    /// <summary><see cref="FromSingle(ReadOnlySpan{float}, Span{ushort})"/> with the vector width forced (see <see cref="ToSingle(ReadOnlySpan{ushort}, Span{float}, int)"/>).</summary>
    internal static void FromSingle(ReadOnlySpan<float> source, Span<ushort> destination, int vectorBits)
    {
        CheckLengths(source.Length, destination.Length, nameof(destination));
        var n = source.Length;
        ref var src = ref Unsafe.As<float, uint>(ref MemoryMarshal.GetReference(source));
        ref var dst = ref MemoryMarshal.GetReference(destination);
        var i = 0;
        if (vectorBits >= 512)
        {
            for (; i <= n - Vector512<ushort>.Count; i += Vector512<ushort>.Count)
            {
                var lo = Round(Vector512.LoadUnsafe(ref src, (nuint)i));
                var hi = Round(Vector512.LoadUnsafe(ref src, (nuint)(i + Vector512<uint>.Count)));
                Vector512.Narrow(lo, hi).StoreUnsafe(ref dst, (nuint)i);
            }
        }
        if (vectorBits >= 256)
        {
            for (; i <= n - Vector256<ushort>.Count; i += Vector256<ushort>.Count)
            {
                var lo = Round(Vector256.LoadUnsafe(ref src, (nuint)i));
                var hi = Round(Vector256.LoadUnsafe(ref src, (nuint)(i + Vector256<uint>.Count)));
                Vector256.Narrow(lo, hi).StoreUnsafe(ref dst, (nuint)i);
            }
        }
        if (vectorBits >= 128)
        {
            for (; i <= n - Vector128<ushort>.Count; i += Vector128<ushort>.Count)
            {
                var lo = Round(Vector128.LoadUnsafe(ref src, (nuint)i));
                var hi = Round(Vector128.LoadUnsafe(ref src, (nuint)(i + Vector128<uint>.Count)));
                Vector128.Narrow(lo, hi).StoreUnsafe(ref dst, (nuint)i);
            }
        }
        for (; i < n; i++) Unsafe.Add(ref dst, i) = FromSingle(BitConverter.UInt32BitsToSingle(Unsafe.Add(ref src, i)));
    }

    // The scalar rule on every lane; the result sits in the low 16 bits of each lane (Narrow truncates).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<uint> Round(Vector512<uint> bits)
    {
        var rounded = (bits + Vector512.Create(0x7FFFu) + ((bits >> 16) & Vector512<uint>.One)) >> 16;
        var isNan = Vector512.GreaterThan(bits & Vector512.Create(AbsMask), Vector512.Create(InfBits));
        return Vector512.ConditionalSelect(isNan, (bits >> 16) | Vector512.Create(QuietBit), rounded);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<uint> Round(Vector256<uint> bits)
    {
        var rounded = (bits + Vector256.Create(0x7FFFu) + ((bits >> 16) & Vector256<uint>.One)) >> 16;
        var isNan = Vector256.GreaterThan(bits & Vector256.Create(AbsMask), Vector256.Create(InfBits));
        return Vector256.ConditionalSelect(isNan, (bits >> 16) | Vector256.Create(QuietBit), rounded);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<uint> Round(Vector128<uint> bits)
    {
        var rounded = (bits + Vector128.Create(0x7FFFu) + ((bits >> 16) & Vector128<uint>.One)) >> 16;
        var isNan = Vector128.GreaterThan(bits & Vector128.Create(AbsMask), Vector128.Create(InfBits));
        return Vector128.ConditionalSelect(isNan, (bits >> 16) | Vector128.Create(QuietBit), rounded);
    }

    private static void CheckLengths(int sourceLength, int destinationLength, string paramName)
    {
        if (destinationLength < sourceLength)
            throw new ArgumentException($"destination holds {destinationLength} elements; expected at least {sourceLength} (the source length)", paramName);
        Debug.Assert(sourceLength >= 0);
    }
}
