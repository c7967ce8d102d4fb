namespace DeepSeek.Interop.Mpi;

/// <summary>Options of an <see cref="MpiCommunicator"/>.</summary>
public sealed class MpiCommunicatorOptions
{
    /// <summary>
    /// Longest time one operation may wait for the other ranks (infinite by default). Past it the operation throws
    /// <see cref="DeepSeek.Runtime.Distributed.CommunicatorTimeoutException"/> and the communicator is broken; a process that
    /// then exits with a failure code aborts the job (<c>MPI_Abort</c>), so <c>mpirun</c> ends every rank.
    /// </summary>
    public TimeSpan OperationTimeout { get; init; } = Timeout.InfiniteTimeSpan;
}
