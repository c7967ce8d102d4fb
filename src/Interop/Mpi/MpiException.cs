using DeepSeek.Runtime.Distributed;

namespace DeepSeek.Interop.Mpi;

/// <summary>An MPI call returned an error code; the message names the call and carries MPI's own error text.</summary>
public sealed class MpiException : CommunicatorException
{
    /// <summary>Creates the exception.</summary>
    public MpiException(string call, int errorCode, string errorText)
        : base($"{call} failed with MPI error {errorCode}: {errorText}")
    {
        Call = call;
        ErrorCode = errorCode;
    }

    /// <summary>The MPI function that failed, e.g. <c>MPI_Iallreduce</c>.</summary>
    public string Call { get; }

    /// <summary>The MPI error code it returned.</summary>
    public int ErrorCode { get; }
}
