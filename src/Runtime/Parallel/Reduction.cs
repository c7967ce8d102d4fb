using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;

namespace DeepSeek.Runtime.Distributed;

/// <summary>Element-wise reductions of the element types communicators reduce (float, double, int, long).</summary>
internal static class Reduction
{
    public static bool IsSupported<T>() where T : unmanaged =>
        typeof(T) == typeof(float) || typeof(T) == typeof(double) || typeof(T) == typeof(int) || typeof(T) == typeof(long);

    public static void EnsureSupported<T>(string operation) where T : unmanaged
    {
        if (!IsSupported<T>())
            throw new NotSupportedException($"{operation}: reductions are defined for float, double, int and long, not {typeof(T).Name}.");
    }

    public static void EnsureDefined(ReduceOp op, string operation)
    {
        if (op is not (ReduceOp.Sum or ReduceOp.Max or ReduceOp.Min))
            throw new ArgumentOutOfRangeException(nameof(op), op, $"{operation}: unknown reduction.");
    }

    /// <summary><paramref name="accumulator"/>[i] = <paramref name="accumulator"/>[i] op <paramref name="x"/>[i] (IEEE, element by element).</summary>
    public static void Accumulate<T>(Span<T> accumulator, ReadOnlySpan<T> x, ReduceOp op) where T : unmanaged
    {
        if (typeof(T) == typeof(float)) Apply(MemoryMarshal.Cast<T, float>(accumulator), MemoryMarshal.Cast<T, float>(x), op);
        else if (typeof(T) == typeof(double)) Apply(MemoryMarshal.Cast<T, double>(accumulator), MemoryMarshal.Cast<T, double>(x), op);
        else if (typeof(T) == typeof(int)) Apply(MemoryMarshal.Cast<T, int>(accumulator), MemoryMarshal.Cast<T, int>(x), op);
        else if (typeof(T) == typeof(long)) Apply(MemoryMarshal.Cast<T, long>(accumulator), MemoryMarshal.Cast<T, long>(x), op);
        else EnsureSupported<T>("reduction");
    }

    private static void Apply<TN>(Span<TN> accumulator, ReadOnlySpan<TN> x, ReduceOp op) where TN : unmanaged, INumber<TN>
    {
        switch (op)
        {
            case ReduceOp.Sum: TensorPrimitives.Add(accumulator, x, accumulator); break;
            case ReduceOp.Max: TensorPrimitives.Max(accumulator, x, accumulator); break;
            case ReduceOp.Min: TensorPrimitives.Min(accumulator, x, accumulator); break;
            default: throw new ArgumentOutOfRangeException(nameof(op), op, "Unknown reduction.");
        }
    }
}
