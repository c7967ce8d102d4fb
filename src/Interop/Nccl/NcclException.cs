using DeepSeek.Runtime.Distributed;

namespace DeepSeek.Interop.Nccl;

/// <summary>An NCCL call returned an error; the message names the call, NCCL's own error string and the likely cause.</summary>
public sealed class NcclException : CommunicatorException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="call">The NCCL function that failed, e.g. <c>ncclAllReduce</c>.</param>
    /// <param name="result">What it returned.</param>
    /// <param name="errorString">NCCL's text for <paramref name="result"/> (<c>ncclGetErrorString</c>).</param>
    public NcclException(string call, NcclResult result, string errorString)
        : base($"{call} failed with {Name(result)} ({(int)result}): {errorString}. {Hint(result)}")
    {
        Call = call;
        Result = result;
        ErrorString = errorString;
    }

    /// <summary>The NCCL function that failed.</summary>
    public string Call { get; }

    /// <summary>The <c>ncclResult_t</c> it returned.</summary>
    public NcclResult Result { get; }

    /// <summary>NCCL's own text for the result.</summary>
    public string ErrorString { get; }

    /// <summary>The <c>nccl.h</c> name of a result code (<c>ncclInvalidUsage</c>, …), or <c>ncclResult_t N</c> for a code this build does not know.</summary>
    public static string Name(NcclResult result) =>
        Enum.IsDefined(result) ? "nccl" + result : $"ncclResult_t {(int)result}";

    /// <summary>What usually causes <paramref name="result"/> and where to look.</summary>
    public static string Hint(NcclResult result) => result switch
    {
        NcclResult.UnhandledCudaError => "A CUDA call inside NCCL failed: check the driver against the CUDA version NCCL was built for, free device memory and that the buffers are device pointers; NCCL_DEBUG=WARN prints the call.",
        NcclResult.SystemError => "A system call failed: check the network interface (NCCL_SOCKET_IFNAME), the size of /dev/shm and open-file limits; NCCL_DEBUG=WARN prints the call.",
        NcclResult.InternalError => "An internal NCCL check failed (an NCCL bug or memory corruption); rerun with NCCL_DEBUG=INFO and report it.",
        NcclResult.InvalidArgument => "An argument was wrong: a null or host pointer, a count that does not match, a rank or root out of range.",
        NcclResult.InvalidUsage => "The call was used wrongly: two ranks on one GPU, collectives called in a different order on different ranks, or a communicator used after it failed.",
        NcclResult.RemoteError => "A remote rank failed or the connection to it broke; the other ranks should end too.",
        NcclResult.InProgress => "A non-blocking operation has not finished yet.",
        _ => "See NCCL's documentation for this code; NCCL_DEBUG=WARN prints details.",
    };
}
