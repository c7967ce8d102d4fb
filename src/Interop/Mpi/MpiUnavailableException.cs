using DeepSeek.Runtime.Distributed;

namespace DeepSeek.Interop.Mpi;

/// <summary>MPI cannot be used here: Open MPI's library is not installed, or this process was not started by <c>mpirun</c>.</summary>
public sealed class MpiUnavailableException : CommunicatorException
{
    /// <summary>Creates the exception.</summary>
    public MpiUnavailableException(string message, Exception? inner = null) : base(message, inner)
    {
    }
}
