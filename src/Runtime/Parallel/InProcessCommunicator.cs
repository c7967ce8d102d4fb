namespace DeepSeek.Runtime.Distributed;

/// <summary>
/// Ranks as threads of one process: for tests of every parallel algorithm without a launcher, and for multi-socket
/// CPU servers. <see cref="Create"/> makes the group; give each communicator to its own thread (or use
/// <see cref="Run{T}"/>, which also breaks the group when a rank throws).
/// </summary>
/// <remarks>
/// Reductions combine the ranks' contributions in rank order, ((x₀ ∘ x₁) ∘ x₂) ∘ …, on every rank, so results are
/// bit-identical on every rank and from run to run. Sends are buffered without bound and never wait for the receiver.
/// Every blocking wait ends when the group breaks, when its token is cancelled or after
/// <see cref="InProcessCommunicatorOptions.OperationTimeout"/>.
/// </remarks>
public sealed partial class InProcessCommunicator : ICommunicator
{
    private readonly InProcessGroup _group;
    private long _collectives;
    private bool _disposed;

    private InProcessCommunicator(InProcessGroup group, int rank)
    {
        _group = group;
        Rank = rank;
    }

    /// <inheritdoc/>
    public int Rank { get; }

    /// <inheritdoc/>
    public int Size => _group.Size;

    /// <summary>This rank's index in the outermost (world) group; failures are reported with world ranks.</summary>
    public int WorldRank => _group.WorldRanks[Rank];

    private InProcessWorld World => _group.World;

    /// <summary>Creates a group of <paramref name="size"/> ranks; element i is rank i's communicator.</summary>
    public static InProcessCommunicator[] Create(int size, InProcessCommunicatorOptions? options = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(size, 1);
        var timeout = (options ?? new InProcessCommunicatorOptions()).OperationTimeout;
        if (timeout != Timeout.InfiniteTimeSpan && timeout <= TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(options), timeout, "OperationTimeout must be positive or infinite.");
        var group = new InProcessGroup(new InProcessWorld(timeout), Enumerable.Range(0, size).ToArray());
        return Enumerable.Range(0, size).Select(r => new InProcessCommunicator(group, r)).ToArray();
    }

    /// <summary>
    /// Runs <paramref name="body"/> once per rank, each on its own thread, and returns the ranks' results in rank
    /// order. A rank that throws breaks the group (the others' operations end with <see cref="RankFailedException"/>
    /// instead of waiting for it); then this method throws a <see cref="RankFailedException"/> naming the first
    /// failed rank, with that rank's exception inside.
    /// </summary>
    public static T[] Run<T>(int size, Func<ICommunicator, T> body, InProcessCommunicatorOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(body);
        var communicators = Create(size, options);
        var results = new T[size];
        var errors = new Exception?[size];
        var threads = new Thread[size];
        for (var r = 0; r < size; r++)
        {
            var rank = r;
            threads[r] = new Thread(() =>
            {
                try
                {
                    results[rank] = body(communicators[rank]);
                }
                catch (Exception e)
                {
                    errors[rank] = e;
                    communicators[rank].World.Break(rank, $"{e.GetType().Name}: {e.Message}", e);
                }
            }) { IsBackground = true, Name = $"in-process rank {rank}" };
            threads[r].Start();
        }
        foreach (var thread in threads) thread.Join();
        foreach (var communicator in communicators) communicator.Dispose();
        if (communicators[0].World.FirstFailure is { } failure)
            throw new RankFailedException(failure.Rank, $"rank {failure.Rank} of {size} failed: {failure.Message}", failure.Inner ?? errors[failure.Rank]);
        return results;
    }

    /// <inheritdoc/>
    public ICommunicator Split(int color, int key)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(color);
        var slot = Enter(new Deposit(CollectiveKind.Split, Argument: color, Argument2: key));
        Wait(slot, default);
        try
        {
            Dictionary<int, (InProcessGroup Group, int[] Members)> groups;
            lock (slot)
                slot.Shared ??= slot.Deposits.Select((d, rank) => (d!.Argument, d.Argument2, rank))
                    .GroupBy(x => x.Argument)
                    .ToDictionary(g => g.Key, g =>
                    {
                        var members = g.OrderBy(x => x.Argument2).ThenBy(x => x.rank).Select(x => x.rank).ToArray();
                        return (new InProcessGroup(World, members.Select(m => _group.WorldRanks[m]).ToArray()), members);
                    });
            groups = (Dictionary<int, (InProcessGroup, int[])>)slot.Shared;
            var (group, members) = groups[color];
            return new InProcessCommunicator(group, Array.IndexOf(members, Rank));
        }
        finally
        {
            _group.Leave(slot);
        }
    }

    /// <inheritdoc/>
    public void Abort(string reason)
    {
        World.Break(WorldRank, $"aborted: {reason}");
    }

    /// <summary>Marks this rank's communicator as no longer used; it does not break the group.</summary>
    public void Dispose() => _disposed = true;

    /// <inheritdoc/>
    public override string ToString() => $"in-process rank {Rank} of {Size}";

    private CollectiveSlot Enter(Deposit deposit)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        World.ThrowIfBroken(deposit.Kind.ToString(), WorldRank);
        var sequence = Interlocked.Increment(ref _collectives) - 1;
        return _group.Arrive(sequence, Rank, deposit);
    }

    private void Wait(CollectiveSlot slot, CancellationToken cancellationToken)
    {
        if (slot.Complete.Task.IsCompleted) return;
        using var wait = WaitToken(cancellationToken);
        try
        {
            slot.Complete.Task.Wait(wait.Token);
        }
        catch (OperationCanceledException)
        {
            throw WaitFailed(slot.Kind.ToString(), cancellationToken);
        }
    }

    private async ValueTask WaitAsync(CollectiveSlot slot, CancellationToken cancellationToken)
    {
        if (slot.Complete.Task.IsCompleted) return;
        using var wait = WaitToken(cancellationToken);
        try
        {
            await slot.Complete.Task.WaitAsync(wait.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            throw WaitFailed(slot.Kind.ToString(), cancellationToken);
        }
    }

    /// <summary>A token that fires on the caller's cancellation, on a broken group, or after the operation timeout.</summary>
    private CancellationTokenSource WaitToken(CancellationToken cancellationToken)
    {
        var source = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, World.Broken);
        if (World.OperationTimeout != Timeout.InfiniteTimeSpan) source.CancelAfter(World.OperationTimeout);
        return source;
    }

    /// <summary>Why a wait ended early; every cause but another rank's failure breaks the group for the others.</summary>
    private Exception WaitFailed(string operation, CancellationToken cancellationToken)
    {
        if (World.FirstFailure is null && cancellationToken.IsCancellationRequested)
        {
            World.Break(WorldRank, $"rank {WorldRank} cancelled {operation}");
            return new OperationCanceledException($"{operation} on rank {WorldRank} was cancelled; the group is broken.", cancellationToken);
        }
        if (World.FirstFailure is null)
        {
            var message = $"{operation} on rank {WorldRank} waited longer than {World.OperationTimeout} for the other ranks";
            World.Break(WorldRank, message);
            return new CommunicatorTimeoutException(message + "; the group is broken.");
        }
        return World.FailedException(operation, WorldRank);
    }
}
