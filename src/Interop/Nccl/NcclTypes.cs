using DeepSeek.Runtime.Distributed;

namespace DeepSeek.Interop.Nccl;

/// <summary>How .NET element types and <see cref="ReduceOp"/> map onto NCCL's data types and reductions.</summary>
public static class NcclTypes
{
    /// <summary>Bytes of one element of <paramref name="type"/>.</summary>
    public static int SizeOf(NcclDataType type) => type switch
    {
        NcclDataType.Int8 or NcclDataType.Uint8 => 1,
        NcclDataType.Float16 or NcclDataType.Bfloat16 => 2,
        NcclDataType.Int32 or NcclDataType.Uint32 or NcclDataType.Float32 => 4,
        NcclDataType.Int64 or NcclDataType.Uint64 or NcclDataType.Float64 => 8,
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "not an NCCL data type this build knows"),
    };

    /// <summary>The NCCL type that reduces elements of <typeparamref name="T"/> (float, double, int, long, as <see cref="ICommunicator"/> defines).</summary>
    /// <exception cref="NotSupportedException">Reductions are not defined for <typeparamref name="T"/>.</exception>
    public static NcclDataType ReductionType<T>(string operation) where T : unmanaged =>
        typeof(T) == typeof(float) ? NcclDataType.Float32
        : typeof(T) == typeof(double) ? NcclDataType.Float64
        : typeof(T) == typeof(int) ? NcclDataType.Int32
        : typeof(T) == typeof(long) ? NcclDataType.Int64
        : throw new NotSupportedException($"{operation}: reductions are defined for float, double, int and long, not {typeof(T).Name}.");

    /// <summary>NCCL's reduction for <paramref name="op"/>.</summary>
    public static NcclRedOp ToNccl(ReduceOp op) => op switch
    {
        ReduceOp.Sum => NcclRedOp.Sum,
        ReduceOp.Max => NcclRedOp.Max,
        ReduceOp.Min => NcclRedOp.Min,
        _ => throw new ArgumentOutOfRangeException(nameof(op), op, "unknown reduction"),
    };
}
