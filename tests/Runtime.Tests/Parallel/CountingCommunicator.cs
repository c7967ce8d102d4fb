using DeepSeek.Runtime.Distributed;

namespace DeepSeek.Runtime.Tests.Distributed;

/// <summary>Delegates to another communicator and counts the all-to-all-v calls, to see that a code path really exchanged tokens.</summary>
internal sealed class CountingCommunicator(ICommunicator inner) : ICommunicator
{
    private int _allToAllV;

    public int AllToAllVCalls => Volatile.Read(ref _allToAllV);

    public int Rank => inner.Rank;

    public int Size => inner.Size;

    public void Barrier(CancellationToken cancellationToken = default) => inner.Barrier(cancellationToken);

    public void Broadcast<T>(Span<T> buffer, int root, CancellationToken cancellationToken = default) where T : unmanaged => inner.Broadcast(buffer, root, cancellationToken);

    public void AllReduce<T>(Span<T> buffer, ReduceOp op = ReduceOp.Sum, CancellationToken cancellationToken = default) where T : unmanaged => inner.AllReduce(buffer, op, cancellationToken);

    public void AllGather<T>(ReadOnlySpan<T> send, Span<T> receive, CancellationToken cancellationToken = default) where T : unmanaged => inner.AllGather(send, receive, cancellationToken);

    public void ReduceScatter<T>(ReadOnlySpan<T> send, Span<T> receive, ReduceOp op = ReduceOp.Sum, CancellationToken cancellationToken = default) where T : unmanaged =>
        inner.ReduceScatter(send, receive, op, cancellationToken);

    public void AllToAll<T>(ReadOnlySpan<T> send, Span<T> receive, CancellationToken cancellationToken = default) where T : unmanaged => inner.AllToAll(send, receive, cancellationToken);

    public void AllToAllV<T>(ReadOnlySpan<T> send, ReadOnlySpan<int> sendCounts, Span<T> receive, ReadOnlySpan<int> receiveCounts, CancellationToken cancellationToken = default) where T : unmanaged
    {
        Interlocked.Increment(ref _allToAllV);
        inner.AllToAllV(send, sendCounts, receive, receiveCounts, cancellationToken);
    }

    public void Send<T>(ReadOnlySpan<T> data, int destination, int tag, CancellationToken cancellationToken = default) where T : unmanaged => inner.Send(data, destination, tag, cancellationToken);

    public int Receive<T>(Span<T> buffer, int source, int tag, CancellationToken cancellationToken = default) where T : unmanaged => inner.Receive(buffer, source, tag, cancellationToken);

    public ICommunicator Split(int color, int key) => inner.Split(color, key);

    public void Abort(string reason) => inner.Abort(reason);

    public ValueTask BarrierAsync(CancellationToken cancellationToken = default) => inner.BarrierAsync(cancellationToken);

    public ValueTask BroadcastAsync<T>(Memory<T> buffer, int root, CancellationToken cancellationToken = default) where T : unmanaged => inner.BroadcastAsync(buffer, root, cancellationToken);

    public ValueTask AllReduceAsync<T>(Memory<T> buffer, ReduceOp op = ReduceOp.Sum, CancellationToken cancellationToken = default) where T : unmanaged => inner.AllReduceAsync(buffer, op, cancellationToken);

    public ValueTask AllGatherAsync<T>(ReadOnlyMemory<T> send, Memory<T> receive, CancellationToken cancellationToken = default) where T : unmanaged => inner.AllGatherAsync(send, receive, cancellationToken);

    public ValueTask ReduceScatterAsync<T>(ReadOnlyMemory<T> send, Memory<T> receive, ReduceOp op = ReduceOp.Sum, CancellationToken cancellationToken = default) where T : unmanaged =>
        inner.ReduceScatterAsync(send, receive, op, cancellationToken);

    public ValueTask AllToAllAsync<T>(ReadOnlyMemory<T> send, Memory<T> receive, CancellationToken cancellationToken = default) where T : unmanaged => inner.AllToAllAsync(send, receive, cancellationToken);

    public ValueTask AllToAllVAsync<T>(ReadOnlyMemory<T> send, ReadOnlyMemory<int> sendCounts, Memory<T> receive, ReadOnlyMemory<int> receiveCounts, CancellationToken cancellationToken = default) where T : unmanaged
    {
        Interlocked.Increment(ref _allToAllV);
        return inner.AllToAllVAsync(send, sendCounts, receive, receiveCounts, cancellationToken);
    }

    public ValueTask SendAsync<T>(ReadOnlyMemory<T> data, int destination, int tag, CancellationToken cancellationToken = default) where T : unmanaged => inner.SendAsync(data, destination, tag, cancellationToken);

    public ValueTask<int> ReceiveAsync<T>(Memory<T> buffer, int source, int tag, CancellationToken cancellationToken = default) where T : unmanaged => inner.ReceiveAsync(buffer, source, tag, cancellationToken);

    public void Dispose() => inner.Dispose();
}
