using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace DeepSeek.Runtime.Compute.Cpu;

/// <summary>
/// acc += s · w for a weight row read in place (BF16, or block-scaled FP8), decoded in registers: absorbed MLA's
/// q_latent = W_UKᵀ · q_nope sums kv_b_proj rows this way each decode step, which used to decode every head's rows into a
/// scratch copy first. Each element is one FMA with the decoded value, so the result is <see cref="AddScaled"/> of the
/// decoded row bit for bit, whatever the vector width.
/// </summary>
internal static partial class RowDot
{
    /// <summary>acc[i] = fma(bf16(w[i]), s, acc[i]).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void AddScaledBf16(ReadOnlySpan<ushort> w, float s, Span<float> acc)
    {
        ref var wr = ref MemoryMarshal.GetReference(w);
        ref var ar = ref MemoryMarshal.GetReference(acc);
        var n = w.Length;
        var i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var sv = Vector512.Create(s);
            for (; i + 32 <= n; i += 32)
            {
                var (lo, hi) = Vector512.Widen(Vector512.LoadUnsafe(ref wr, (nuint)i));
                Vector512.FusedMultiplyAdd((lo << 16).AsSingle(), sv, Vector512.LoadUnsafe(ref ar, (nuint)i)).StoreUnsafe(ref ar, (nuint)i);
                Vector512.FusedMultiplyAdd((hi << 16).AsSingle(), sv, Vector512.LoadUnsafe(ref ar, (nuint)i + 16)).StoreUnsafe(ref ar, (nuint)i + 16);
            }
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            var sv = Vector256.Create(s);
            for (; i + 16 <= n; i += 16)
            {
                var (lo, hi) = Vector256.Widen(Vector256.LoadUnsafe(ref wr, (nuint)i));
                Vector256.FusedMultiplyAdd((lo << 16).AsSingle(), sv, Vector256.LoadUnsafe(ref ar, (nuint)i)).StoreUnsafe(ref ar, (nuint)i);
                Vector256.FusedMultiplyAdd((hi << 16).AsSingle(), sv, Vector256.LoadUnsafe(ref ar, (nuint)i + 8)).StoreUnsafe(ref ar, (nuint)i + 8);
            }
        }
        for (; i < n; i++)
            Unsafe.Add(ref ar, i) = MathF.FusedMultiplyAdd(BitConverter.UInt32BitsToSingle((uint)Unsafe.Add(ref wr, i) << 16), s, Unsafe.Add(ref ar, i));
    }

    /// <summary>acc[i] = fma(code[i] × scale, s, acc[i]) with <paramref name="scales2p120"/> as in <see cref="DotFp8"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void AddScaledFp8(ReadOnlySpan<byte> w, ReadOnlySpan<float> scales2p120, int blockCols, float s, Span<float> acc)
    {
        ref var wr = ref MemoryMarshal.GetReference(w);
        ref var ar = ref MemoryMarshal.GetReference(acc);
        var n = w.Length;
        var i = 0;
        if (Vector512.IsHardwareAccelerated && Avx512F.IsSupported)
        {
            var sv = Vector512.Create(s);
            for (; i + 16 <= n; i += 16)
                Vector512.FusedMultiplyAdd(Fp8x16(ref wr, i, scales2p120, blockCols), sv, Vector512.LoadUnsafe(ref ar, (nuint)i)).StoreUnsafe(ref ar, (nuint)i);
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            var sv = Vector256.Create(s);
            for (; i + 8 <= n; i += 8)
                Vector256.FusedMultiplyAdd(Fp8x8(ref wr, i, scales2p120, blockCols), sv, Vector256.LoadUnsafe(ref ar, (nuint)i)).StoreUnsafe(ref ar, (nuint)i);
        }
        for (; i < n; i++)
            Unsafe.Add(ref ar, i) = MathF.FusedMultiplyAdd(Fp8Scaled(Unsafe.Add(ref wr, i)) * scales2p120[i / blockCols], s, Unsafe.Add(ref ar, i));
    }
}
