namespace DeepSeek.Runtime.Distributed;

/// <summary>
/// The failure state every group of one in-process job shares (the world group and all its splits): the first
/// failure breaks the whole job, so no rank waits for a peer that will never come.
/// </summary>
internal sealed class InProcessWorld(TimeSpan operationTimeout)
{
    private readonly CancellationTokenSource _broken = new();
    private Failure? _failure;

    internal sealed record Failure(int Rank, string Message, Exception? Inner);

    public TimeSpan OperationTimeout { get; } = operationTimeout;

    public CancellationToken Broken => _broken.Token;

    public Failure? FirstFailure => Volatile.Read(ref _failure);

    /// <summary>Records the first failure and wakes every waiting rank; later failures are consequences and are not recorded.</summary>
    public void Break(int worldRank, string message, Exception? inner = null)
    {
        if (Interlocked.CompareExchange(ref _failure, new Failure(worldRank, message, inner), null) is null)
            _broken.Cancel();
    }

    /// <summary>The exception a rank gets for <paramref name="operation"/> once the job is broken.</summary>
    public RankFailedException FailedException(string operation, int worldRank)
    {
        var failure = FirstFailure!;
        return new RankFailedException(failure.Rank,
            $"{operation} on rank {worldRank} cannot complete: rank {failure.Rank} failed ({failure.Message}).", failure.Inner);
    }

    public void ThrowIfBroken(string operation, int worldRank)
    {
        if (FirstFailure is not null) throw FailedException(operation, worldRank);
    }
}
