namespace DeepSeek.Runtime.Distributed;

/// <summary>Options of an <see cref="InProcessCommunicator"/> group.</summary>
public sealed class InProcessCommunicatorOptions
{
    /// <summary>
    /// Longest time one operation may wait for the other ranks (infinite by default). An operation that waits longer
    /// throws <see cref="CommunicatorTimeoutException"/> and breaks the group, so the other ranks end too. Tests set it
    /// so that a bug ends in an error instead of a hang.
    /// </summary>
    public TimeSpan OperationTimeout { get; init; } = Timeout.InfiniteTimeSpan;
}
