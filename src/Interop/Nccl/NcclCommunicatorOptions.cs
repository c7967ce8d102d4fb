namespace DeepSeek.Interop.Nccl;

/// <summary>Options of an <see cref="NcclCommunicator"/>.</summary>
public sealed class NcclCommunicatorOptions
{
    /// <summary>CUDA device ordinal this rank uses (one GPU per rank; NCCL refuses two ranks on one GPU). Default 0.</summary>
    public int Device { get; init; }

    /// <summary>
    /// Longest time a host-staged operation (the <see cref="Runtime.Distributed.ICommunicator"/> methods) may wait for the
    /// other ranks; past it the communicator is aborted (<c>ncclCommAbort</c>) and the call throws
    /// <see cref="Runtime.Distributed.CommunicatorTimeoutException"/>. Default 10 minutes (PyTorch's NCCL watchdog default),
    /// so a lost rank ends the others instead of hanging them.
    /// </summary>
    public TimeSpan OperationTimeout { get; init; } = TimeSpan.FromMinutes(10);
}
