namespace DeepSeek.Interop.Nccl;

/// <summary>NCCL's <c>ncclDataType_t</c>, value for value as in <c>nccl.h</c> (the aliases <c>ncclChar</c>, <c>ncclInt</c>, <c>ncclHalf</c>, <c>ncclFloat</c>, <c>ncclDouble</c> share these values).</summary>
public enum NcclDataType
{
    /// <summary><c>ncclInt8</c> (= <c>ncclChar</c>).</summary>
    Int8 = 0,

    /// <summary><c>ncclUint8</c>; data movement of arbitrary bytes uses it.</summary>
    Uint8 = 1,

    /// <summary><c>ncclInt32</c> (= <c>ncclInt</c>).</summary>
    Int32 = 2,

    /// <summary><c>ncclUint32</c>.</summary>
    Uint32 = 3,

    /// <summary><c>ncclInt64</c>.</summary>
    Int64 = 4,

    /// <summary><c>ncclUint64</c>.</summary>
    Uint64 = 5,

    /// <summary><c>ncclFloat16</c> (= <c>ncclHalf</c>).</summary>
    Float16 = 6,

    /// <summary><c>ncclFloat32</c> (= <c>ncclFloat</c>).</summary>
    Float32 = 7,

    /// <summary><c>ncclFloat64</c> (= <c>ncclDouble</c>).</summary>
    Float64 = 8,

    /// <summary><c>ncclBfloat16</c> (NCCL ≥ 2.10 with CUDA ≥ 11).</summary>
    Bfloat16 = 9,
}
