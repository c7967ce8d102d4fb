namespace DeepSeek.Runtime.Distributed;

public sealed partial class InProcessCommunicator
{
    /// <inheritdoc/>
    public void Barrier(CancellationToken cancellationToken = default)
    {
        var slot = Enter(new Deposit(CollectiveKind.Barrier));
        Wait(slot, cancellationToken);
        _group.Leave(slot);
    }

    /// <inheritdoc/>
    public async ValueTask BarrierAsync(CancellationToken cancellationToken = default)
    {
        var slot = Enter(new Deposit(CollectiveKind.Barrier));
        await WaitAsync(slot, cancellationToken).ConfigureAwait(false);
        _group.Leave(slot);
    }

    /// <inheritdoc/>
    public void Broadcast<T>(Span<T> buffer, int root, CancellationToken cancellationToken = default) where T : unmanaged
    {
        CheckRank(root, nameof(root));
        var slot = Enter(new Deposit(CollectiveKind.Broadcast, Rank == root ? buffer.ToArray() : null, Argument: root, Argument2: buffer.Length));
        Wait(slot, cancellationToken);
        try { ReadBroadcast(slot, buffer, root); } finally { _group.Leave(slot); }
    }

    /// <inheritdoc/>
    public async ValueTask BroadcastAsync<T>(Memory<T> buffer, int root, CancellationToken cancellationToken = default) where T : unmanaged
    {
        CheckRank(root, nameof(root));
        var slot = Enter(new Deposit(CollectiveKind.Broadcast, Rank == root ? buffer.ToArray() : null, Argument: root, Argument2: buffer.Length));
        await WaitAsync(slot, cancellationToken).ConfigureAwait(false);
        try { ReadBroadcast(slot, buffer.Span, root); } finally { _group.Leave(slot); }
    }

    /// <inheritdoc/>
    public void AllReduce<T>(Span<T> buffer, ReduceOp op = ReduceOp.Sum, CancellationToken cancellationToken = default) where T : unmanaged
    {
        CheckReduction<T>(op, nameof(AllReduce));
        var slot = Enter(new Deposit(CollectiveKind.AllReduce, buffer.ToArray(), Argument: (int)op));
        Wait(slot, cancellationToken);
        try { ReadReduced(slot, buffer, 0, op); } finally { _group.Leave(slot); }
    }

    /// <inheritdoc/>
    public async ValueTask AllReduceAsync<T>(Memory<T> buffer, ReduceOp op = ReduceOp.Sum, CancellationToken cancellationToken = default) where T : unmanaged
    {
        CheckReduction<T>(op, nameof(AllReduce));
        var slot = Enter(new Deposit(CollectiveKind.AllReduce, buffer.ToArray(), Argument: (int)op));
        await WaitAsync(slot, cancellationToken).ConfigureAwait(false);
        try { ReadReduced(slot, buffer.Span, 0, op); } finally { _group.Leave(slot); }
    }

    /// <inheritdoc/>
    public void AllGather<T>(ReadOnlySpan<T> send, Span<T> receive, CancellationToken cancellationToken = default) where T : unmanaged
    {
        CheckBlocks(receive.Length, send.Length, nameof(AllGather), "receive.Length must be Size × send.Length");
        var slot = Enter(new Deposit(CollectiveKind.AllGather, send.ToArray()));
        Wait(slot, cancellationToken);
        try { ReadGathered(slot, receive); } finally { _group.Leave(slot); }
    }

    /// <inheritdoc/>
    public async ValueTask AllGatherAsync<T>(ReadOnlyMemory<T> send, Memory<T> receive, CancellationToken cancellationToken = default) where T : unmanaged
    {
        CheckBlocks(receive.Length, send.Length, nameof(AllGather), "receive.Length must be Size × send.Length");
        var slot = Enter(new Deposit(CollectiveKind.AllGather, send.ToArray()));
        await WaitAsync(slot, cancellationToken).ConfigureAwait(false);
        try { ReadGathered(slot, receive.Span); } finally { _group.Leave(slot); }
    }

    /// <inheritdoc/>
    public void ReduceScatter<T>(ReadOnlySpan<T> send, Span<T> receive, ReduceOp op = ReduceOp.Sum, CancellationToken cancellationToken = default) where T : unmanaged
    {
        CheckReduction<T>(op, nameof(ReduceScatter));
        CheckBlocks(send.Length, receive.Length, nameof(ReduceScatter), "send.Length must be Size × receive.Length");
        var slot = Enter(new Deposit(CollectiveKind.ReduceScatter, send.ToArray(), Argument: (int)op));
        Wait(slot, cancellationToken);
        try { ReadReduced(slot, receive, Rank * receive.Length, op); } finally { _group.Leave(slot); }
    }

    /// <inheritdoc/>
    public async ValueTask ReduceScatterAsync<T>(ReadOnlyMemory<T> send, Memory<T> receive, ReduceOp op = ReduceOp.Sum, CancellationToken cancellationToken = default) where T : unmanaged
    {
        CheckReduction<T>(op, nameof(ReduceScatter));
        CheckBlocks(send.Length, receive.Length, nameof(ReduceScatter), "send.Length must be Size × receive.Length");
        var slot = Enter(new Deposit(CollectiveKind.ReduceScatter, send.ToArray(), Argument: (int)op));
        await WaitAsync(slot, cancellationToken).ConfigureAwait(false);
        try { ReadReduced(slot, receive.Span, Rank * receive.Length, op); } finally { _group.Leave(slot); }
    }

    /// <inheritdoc/>
    public void AllToAll<T>(ReadOnlySpan<T> send, Span<T> receive, CancellationToken cancellationToken = default) where T : unmanaged
    {
        CheckAllToAll(send.Length, receive.Length);
        var slot = Enter(new Deposit(CollectiveKind.AllToAll, send.ToArray()));
        Wait(slot, cancellationToken);
        try { ReadAllToAll(slot, receive); } finally { _group.Leave(slot); }
    }

    /// <inheritdoc/>
    public async ValueTask AllToAllAsync<T>(ReadOnlyMemory<T> send, Memory<T> receive, CancellationToken cancellationToken = default) where T : unmanaged
    {
        CheckAllToAll(send.Length, receive.Length);
        var slot = Enter(new Deposit(CollectiveKind.AllToAll, send.ToArray()));
        await WaitAsync(slot, cancellationToken).ConfigureAwait(false);
        try { ReadAllToAll(slot, receive.Span); } finally { _group.Leave(slot); }
    }

    /// <inheritdoc/>
    public void AllToAllV<T>(ReadOnlySpan<T> send, ReadOnlySpan<int> sendCounts, Span<T> receive, ReadOnlySpan<int> receiveCounts,
        CancellationToken cancellationToken = default) where T : unmanaged
    {
        CheckCounts(send.Length, sendCounts, receive.Length, receiveCounts);
        var slot = Enter(new Deposit(CollectiveKind.AllToAllV, send.ToArray(), sendCounts.ToArray()));
        Wait(slot, cancellationToken);
        try { ReadAllToAllV(slot, receive, receiveCounts); } finally { _group.Leave(slot); }
    }

    /// <inheritdoc/>
    public async ValueTask AllToAllVAsync<T>(ReadOnlyMemory<T> send, ReadOnlyMemory<int> sendCounts, Memory<T> receive, ReadOnlyMemory<int> receiveCounts,
        CancellationToken cancellationToken = default) where T : unmanaged
    {
        CheckCounts(send.Length, sendCounts.Span, receive.Length, receiveCounts.Span);
        var slot = Enter(new Deposit(CollectiveKind.AllToAllV, send.ToArray(), sendCounts.ToArray()));
        await WaitAsync(slot, cancellationToken).ConfigureAwait(false);
        try { ReadAllToAllV(slot, receive.Span, receiveCounts.Span); } finally { _group.Leave(slot); }
    }

    private void ReadBroadcast<T>(CollectiveSlot slot, Span<T> buffer, int root) where T : unmanaged
    {
        AgreeOn(slot, d => d.Argument, "root");
        AgreeOn(slot, d => d.Argument2, "buffer length");
        Data<T>(slot, root).CopyTo(buffer);
    }

    /// <summary>receive = block at <paramref name="offset"/> of x₀ ∘ x₁ ∘ … in rank order (the same order on every rank).</summary>
    private void ReadReduced<T>(CollectiveSlot slot, Span<T> receive, int offset, ReduceOp op) where T : unmanaged
    {
        AgreeOn(slot, d => d.Argument, "reduction");
        AgreeOn(slot, d => d.Data!.Length, "buffer length");
        Data<T>(slot, 0).AsSpan(offset, receive.Length).CopyTo(receive);
        for (var r = 1; r < Size; r++)
            Reduction.Accumulate(receive, Data<T>(slot, r).AsSpan(offset, receive.Length), op);
    }

    private void ReadGathered<T>(CollectiveSlot slot, Span<T> receive) where T : unmanaged
    {
        AgreeOn(slot, d => d.Data!.Length, "send length");
        var n = receive.Length / Size;
        for (var r = 0; r < Size; r++) Data<T>(slot, r).CopyTo(receive.Slice(r * n, n));
    }

    private void ReadAllToAll<T>(CollectiveSlot slot, Span<T> receive) where T : unmanaged
    {
        AgreeOn(slot, d => d.Data!.Length, "send length");
        var n = receive.Length / Size;
        for (var r = 0; r < Size; r++) Data<T>(slot, r).AsSpan(Rank * n, n).CopyTo(receive.Slice(r * n, n));
    }

    private void ReadAllToAllV<T>(CollectiveSlot slot, Span<T> receive, ReadOnlySpan<int> receiveCounts) where T : unmanaged
    {
        var at = 0;
        for (var r = 0; r < Size; r++)
        {
            var counts = slot.Deposits[r]!.Counts!;
            if (counts[Rank] != receiveCounts[r])
                throw new CommunicatorException($"AllToAllV: rank {r} sends {counts[Rank]} elements to rank {Rank}, which expects {receiveCounts[r]} from it.");
            var offset = 0;
            for (var j = 0; j < Rank; j++) offset += counts[j];
            Data<T>(slot, r).AsSpan(offset, counts[Rank]).CopyTo(receive.Slice(at, counts[Rank]));
            at += counts[Rank];
        }
    }

    private static T[] Data<T>(CollectiveSlot slot, int rank) where T : unmanaged =>
        slot.Deposits[rank]!.Data as T[]
        ?? throw new CommunicatorException($"{slot.Kind}: rank {rank} passed {slot.Deposits[rank]!.Data?.GetType().GetElementType()?.Name ?? "no"} elements where {typeof(T).Name} was expected.");

    /// <summary>Every rank sees every deposit, so every rank detects the same disagreement and throws the same error.</summary>
    private void AgreeOn(CollectiveSlot slot, Func<Deposit, int> argument, string what)
    {
        var first = argument(slot.Deposits[0]!);
        for (var r = 1; r < Size; r++)
        {
            var value = argument(slot.Deposits[r]!);
            if (value != first)
                throw new CommunicatorException($"{slot.Kind}: ranks disagree on the {what}: rank 0 passed {first}, rank {r} passed {value}.");
        }
    }

    private void CheckRank(int rank, string name)
    {
        if ((uint)rank >= (uint)Size) throw new ArgumentOutOfRangeException(name, rank, $"Rank must be in [0, {Size}).");
    }

    private static void CheckReduction<T>(ReduceOp op, string operation) where T : unmanaged
    {
        Reduction.EnsureSupported<T>(operation);
        Reduction.EnsureDefined(op, operation);
    }

    private void CheckBlocks(long whole, long block, string operation, string rule)
    {
        if (whole != block * Size)
            throw new ArgumentException($"{operation} on {Size} ranks: {rule} (got {whole} and {block}).");
    }

    private void CheckAllToAll(int send, int receive)
    {
        if (send != receive || send % Size != 0)
            throw new ArgumentException($"AllToAll on {Size} ranks: send and receive must have the same length, a multiple of {Size} (got {send} and {receive}).");
    }

    private void CheckCounts(int send, ReadOnlySpan<int> sendCounts, int receive, ReadOnlySpan<int> receiveCounts)
    {
        if (sendCounts.Length != Size || receiveCounts.Length != Size)
            throw new ArgumentException($"AllToAllV on {Size} ranks: sendCounts and receiveCounts need {Size} entries (got {sendCounts.Length} and {receiveCounts.Length}).");
        long sendTotal = 0, receiveTotal = 0;
        for (var r = 0; r < Size; r++)
        {
            if (sendCounts[r] < 0 || receiveCounts[r] < 0) throw new ArgumentException($"AllToAllV: counts must not be negative (rank {r}).");
            sendTotal += sendCounts[r];
            receiveTotal += receiveCounts[r];
        }
        if (sendTotal > send) throw new ArgumentException($"AllToAllV: sendCounts add up to {sendTotal} but send holds {send} elements.");
        if (receiveTotal > receive) throw new ArgumentException($"AllToAllV: receiveCounts add up to {receiveTotal} but receive holds {receive} elements.");
    }
}
