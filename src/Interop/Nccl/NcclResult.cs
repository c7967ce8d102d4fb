namespace DeepSeek.Interop.Nccl;

/// <summary>NCCL's <c>ncclResult_t</c>, value for value as in <c>nccl.h</c>.</summary>
public enum NcclResult
{
    /// <summary><c>ncclSuccess</c>: the call succeeded.</summary>
    Success = 0,

    /// <summary><c>ncclUnhandledCudaError</c>: a CUDA call inside NCCL failed.</summary>
    UnhandledCudaError = 1,

    /// <summary><c>ncclSystemError</c>: a system call (socket, shared memory, …) failed.</summary>
    SystemError = 2,

    /// <summary><c>ncclInternalError</c>: an internal check failed (an NCCL bug or memory corruption).</summary>
    InternalError = 3,

    /// <summary><c>ncclInvalidArgument</c>: an argument was wrong (null or host pointer, bad rank or count).</summary>
    InvalidArgument = 4,

    /// <summary><c>ncclInvalidUsage</c>: the call was used wrongly (e.g. two ranks on one GPU).</summary>
    InvalidUsage = 5,

    /// <summary><c>ncclRemoteError</c>: a remote rank failed or the connection to it broke.</summary>
    RemoteError = 6,

    /// <summary><c>ncclInProgress</c>: a non-blocking operation has not finished yet.</summary>
    InProgress = 7,
}
