namespace DeepSeek.Interop.Nccl;

/// <summary>NCCL's built-in <c>ncclRedOp_t</c>, value for value as in <c>nccl.h</c>.</summary>
public enum NcclRedOp
{
    /// <summary><c>ncclSum</c>.</summary>
    Sum = 0,

    /// <summary><c>ncclProd</c>.</summary>
    Prod = 1,

    /// <summary><c>ncclMax</c>.</summary>
    Max = 2,

    /// <summary><c>ncclMin</c>.</summary>
    Min = 3,

    /// <summary><c>ncclAvg</c> (NCCL ≥ 2.10): the sum divided by the number of ranks.</summary>
    Avg = 4,
}
