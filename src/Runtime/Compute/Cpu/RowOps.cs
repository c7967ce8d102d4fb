using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace DeepSeek.Runtime.Compute.Cpu;

/// <summary>
/// The element-wise row kernels of <see cref="CpuBackend"/> (RMSNorm's two passes, SwiGLU), vectorised with Vector512
/// and a Vector256 fallback. Each works on one row at a time and computes an element by the same operations wherever it
/// sits in a batch, so results stay independent of batching; a tail shorter than a vector takes the scalar form of the
/// same operations.
/// </summary>
internal static class RowOps
{
    /// <summary>Σ x² accumulated in double (each float widened exactly, two vector accumulators, then the tail).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static double SumOfSquares(ReadOnlySpan<float> x)
    {
        ref var xr = ref MemoryMarshal.GetReference(x);
        var n = x.Length;
        var i = 0;
        double s = 0;
        if (Vector512.IsHardwareAccelerated && n >= 16)
        {
            Vector512<double> a = default, b = default;
            for (; i + 16 <= n; i += 16)
            {
                var (lo, hi) = Vector512.Widen(Vector512.LoadUnsafe(ref xr, (nuint)i));
                a = Vector512.FusedMultiplyAdd(lo, lo, a);
                b = Vector512.FusedMultiplyAdd(hi, hi, b);
            }
            s = Vector512.Sum(a + b);
        }
        else if (Vector256.IsHardwareAccelerated && n >= 8)
        {
            Vector256<double> a = default, b = default;
            for (; i + 8 <= n; i += 8)
            {
                var (lo, hi) = Vector256.Widen(Vector256.LoadUnsafe(ref xr, (nuint)i));
                a = Vector256.FusedMultiplyAdd(lo, lo, a);
                b = Vector256.FusedMultiplyAdd(hi, hi, b);
            }
            s = Vector256.Sum(a + b);
        }
        for (; i < n; i++)
        {
            double v = Unsafe.Add(ref xr, i);
            s = Math.FusedMultiplyAdd(v, v, s);
        }
        return s;
    }

    /// <summary>output[i] = (x[i] · s) · w[i] — RMSNorm's scaling, rounded after each multiply as two passes would.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ScaleTimes(ReadOnlySpan<float> x, float s, ReadOnlySpan<float> w, Span<float> output)
    {
        if (w.Length < x.Length || output.Length < x.Length) throw new ArgumentException($"row of {x.Length} with {w.Length} weights into {output.Length}");
        ref var xr = ref MemoryMarshal.GetReference(x);
        ref var wr = ref MemoryMarshal.GetReference(w);
        ref var or = ref MemoryMarshal.GetReference(output);
        var n = x.Length;
        var i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var vs = Vector512.Create(s);
            for (; i + 16 <= n; i += 16)
                (Vector512.LoadUnsafe(ref xr, (nuint)i) * vs * Vector512.LoadUnsafe(ref wr, (nuint)i)).StoreUnsafe(ref or, (nuint)i);
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            var vs = Vector256.Create(s);
            for (; i + 8 <= n; i += 8)
                (Vector256.LoadUnsafe(ref xr, (nuint)i) * vs * Vector256.LoadUnsafe(ref wr, (nuint)i)).StoreUnsafe(ref or, (nuint)i);
        }
        for (; i < n; i++) Unsafe.Add(ref or, i) = Unsafe.Add(ref xr, i) * s * Unsafe.Add(ref wr, i);
    }

    /// <summary>
    /// output[i] = silu(gate[i]) · up[i] with silu(z) = z / (1 + e^−z); the vector exp is .NET's (within an ulp or so of
    /// <see cref="MathF.Exp"/>). <paramref name="output"/> may be <paramref name="gate"/> or <paramref name="up"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void SwiGlu(ReadOnlySpan<float> gate, ReadOnlySpan<float> up, Span<float> output)
    {
        if (up.Length < gate.Length || output.Length < gate.Length) throw new ArgumentException($"gate of {gate.Length} with up of {up.Length} into {output.Length}");
        ref var gr = ref MemoryMarshal.GetReference(gate);
        ref var ur = ref MemoryMarshal.GetReference(up);
        ref var or = ref MemoryMarshal.GetReference(output);
        var n = gate.Length;
        var i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var one = Vector512<float>.One;
            for (; i + 16 <= n; i += 16)
            {
                var z = Vector512.LoadUnsafe(ref gr, (nuint)i);
                (z / (one + Vector512.Exp(-z)) * Vector512.LoadUnsafe(ref ur, (nuint)i)).StoreUnsafe(ref or, (nuint)i);
            }
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            var one = Vector256<float>.One;
            for (; i + 8 <= n; i += 8)
            {
                var z = Vector256.LoadUnsafe(ref gr, (nuint)i);
                (z / (one + Vector256.Exp(-z)) * Vector256.LoadUnsafe(ref ur, (nuint)i)).StoreUnsafe(ref or, (nuint)i);
            }
        }
        for (; i < n; i++)
        {
            var z = Unsafe.Add(ref gr, i);
            Unsafe.Add(ref or, i) = z / (1f + MathF.Exp(-z)) * Unsafe.Add(ref ur, i);
        }
    }
}
