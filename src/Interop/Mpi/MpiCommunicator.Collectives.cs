using System.Buffers;
using System.Runtime.CompilerServices;
using DeepSeek.Runtime.Distributed;

namespace DeepSeek.Interop.Mpi;

public sealed partial class MpiCommunicator
{
    /// <inheritdoc/>
    public unsafe void Barrier(CancellationToken cancellationToken = default)
    {
        ThrowIfUnusable("Barrier");
        nint request;
        lock (CallGate) MpiNative.Check(MpiNative.Ibarrier(_comm, &request), "MPI_Ibarrier");
        Complete(request, "MPI_Ibarrier", cancellationToken);
    }

    /// <inheritdoc/>
    public ValueTask BarrierAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfUnusable("Barrier");
        return CompleteAsync(StartBarrier(), "MPI_Ibarrier", cancellationToken);
    }

    /// <inheritdoc/>
    public unsafe void Broadcast<T>(Span<T> buffer, int root, CancellationToken cancellationToken = default) where T : unmanaged
    {
        CheckRoot(root);
        fixed (T* p = buffer) Complete(StartBroadcast((nint)p, Bytes<T>(buffer.Length, "Broadcast"), root), "MPI_Ibcast", cancellationToken);
    }

    /// <inheritdoc/>
    public async ValueTask BroadcastAsync<T>(Memory<T> buffer, int root, CancellationToken cancellationToken = default) where T : unmanaged
    {
        CheckRoot(root);
        using var pin = buffer.Pin();
        await CompleteAsync(StartBroadcast(Pointer(pin), Bytes<T>(buffer.Length, "Broadcast"), root), "MPI_Ibcast", cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public unsafe void AllReduce<T>(Span<T> buffer, ReduceOp op = ReduceOp.Sum, CancellationToken cancellationToken = default) where T : unmanaged
    {
        var (type, mpiOp) = Reduction<T>(op, "AllReduce");
        fixed (T* p = buffer) Complete(StartAllReduce((nint)p, buffer.Length, type, mpiOp), "MPI_Iallreduce", cancellationToken);
    }

    /// <inheritdoc/>
    public async ValueTask AllReduceAsync<T>(Memory<T> buffer, ReduceOp op = ReduceOp.Sum, CancellationToken cancellationToken = default) where T : unmanaged
    {
        var (type, mpiOp) = Reduction<T>(op, "AllReduce");
        using var pin = buffer.Pin();
        await CompleteAsync(StartAllReduce(Pointer(pin), buffer.Length, type, mpiOp), "MPI_Iallreduce", cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public unsafe void AllGather<T>(ReadOnlySpan<T> send, Span<T> receive, CancellationToken cancellationToken = default) where T : unmanaged
    {
        CheckBlocks(receive.Length, send.Length, "AllGather", "receive.Length must be Size × send.Length");
        fixed (T* s = send)
        fixed (T* r = receive)
            Complete(StartBlocks(allToAll: false, (nint)s, (nint)r, Bytes<T>(send.Length, "AllGather")), "MPI_Iallgather", cancellationToken);
    }

    /// <inheritdoc/>
    public async ValueTask AllGatherAsync<T>(ReadOnlyMemory<T> send, Memory<T> receive, CancellationToken cancellationToken = default) where T : unmanaged
    {
        CheckBlocks(receive.Length, send.Length, "AllGather", "receive.Length must be Size × send.Length");
        using var s = send.Pin();
        using var r = receive.Pin();
        await CompleteAsync(StartBlocks(allToAll: false, Pointer(s), Pointer(r), Bytes<T>(send.Length, "AllGather")),
            "MPI_Iallgather", cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public unsafe void ReduceScatter<T>(ReadOnlySpan<T> send, Span<T> receive, ReduceOp op = ReduceOp.Sum, CancellationToken cancellationToken = default) where T : unmanaged
    {
        var (type, mpiOp) = Reduction<T>(op, "ReduceScatter");
        CheckBlocks(send.Length, receive.Length, "ReduceScatter", "send.Length must be Size × receive.Length");
        fixed (T* s = send)
        fixed (T* r = receive)
            Complete(StartReduceScatter((nint)s, (nint)r, receive.Length, type, mpiOp), "MPI_Ireduce_scatter_block", cancellationToken);
    }

    /// <inheritdoc/>
    public async ValueTask ReduceScatterAsync<T>(ReadOnlyMemory<T> send, Memory<T> receive, ReduceOp op = ReduceOp.Sum, CancellationToken cancellationToken = default) where T : unmanaged
    {
        var (type, mpiOp) = Reduction<T>(op, "ReduceScatter");
        CheckBlocks(send.Length, receive.Length, "ReduceScatter", "send.Length must be Size × receive.Length");
        using var s = send.Pin();
        using var r = receive.Pin();
        await CompleteAsync(StartReduceScatter(Pointer(s), Pointer(r), receive.Length, type, mpiOp), "MPI_Ireduce_scatter_block", cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public unsafe void AllToAll<T>(ReadOnlySpan<T> send, Span<T> receive, CancellationToken cancellationToken = default) where T : unmanaged
    {
        CheckAllToAll(send.Length, receive.Length);
        fixed (T* s = send)
        fixed (T* r = receive)
            Complete(StartBlocks(allToAll: true, (nint)s, (nint)r, Bytes<T>(send.Length / Size, "AllToAll")), "MPI_Ialltoall", cancellationToken);
    }

    /// <inheritdoc/>
    public async ValueTask AllToAllAsync<T>(ReadOnlyMemory<T> send, Memory<T> receive, CancellationToken cancellationToken = default) where T : unmanaged
    {
        CheckAllToAll(send.Length, receive.Length);
        using var s = send.Pin();
        using var r = receive.Pin();
        await CompleteAsync(StartBlocks(allToAll: true, Pointer(s), Pointer(r), Bytes<T>(send.Length / Size, "AllToAll")),
            "MPI_Ialltoall", cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public unsafe void AllToAllV<T>(ReadOnlySpan<T> send, ReadOnlySpan<int> sendCounts, Span<T> receive, ReadOnlySpan<int> receiveCounts,
        CancellationToken cancellationToken = default) where T : unmanaged
    {
        var layout = ByteLayout<T>(send.Length, sendCounts, receive.Length, receiveCounts);
        fixed (T* s = send)
        fixed (T* r = receive)
            Complete(StartAllToAllV((nint)s, (nint)r, layout), "MPI_Ialltoallv", cancellationToken);
        GC.KeepAlive(layout);
    }

    /// <inheritdoc/>
    public async ValueTask AllToAllVAsync<T>(ReadOnlyMemory<T> send, ReadOnlyMemory<int> sendCounts, Memory<T> receive, ReadOnlyMemory<int> receiveCounts,
        CancellationToken cancellationToken = default) where T : unmanaged
    {
        var layout = ByteLayout<T>(send.Length, sendCounts.Span, receive.Length, receiveCounts.Span);
        using var s = send.Pin();
        using var r = receive.Pin();
        await CompleteAsync(StartAllToAllV(Pointer(s), Pointer(r), layout), "MPI_Ialltoallv", cancellationToken).ConfigureAwait(false);
        GC.KeepAlive(layout);
    }

    private unsafe nint StartBarrier()
    {
        nint request;
        lock (CallGate) MpiNative.Check(MpiNative.Ibarrier(_comm, &request), "MPI_Ibarrier");
        return request;
    }

    private unsafe nint StartBroadcast(nint buffer, int bytes, int root)
    {
        nint request;
        lock (CallGate) MpiNative.Check(MpiNative.Ibcast((void*)buffer, bytes, MpiNative.Byte, root, _comm, &request), "MPI_Ibcast");
        return request;
    }

    private unsafe nint StartAllReduce(nint buffer, int count, nint type, nint op)
    {
        nint request;
        lock (CallGate) MpiNative.Check(MpiNative.Iallreduce((void*)MpiNative.InPlace, (void*)buffer, count, type, op, _comm, &request), "MPI_Iallreduce");
        return request;
    }

    private unsafe nint StartReduceScatter(nint send, nint receive, int count, nint type, nint op)
    {
        nint request;
        lock (CallGate) MpiNative.Check(MpiNative.IreduceScatterBlock((void*)send, (void*)receive, count, type, op, _comm, &request), "MPI_Ireduce_scatter_block");
        return request;
    }

    private unsafe nint StartBlocks(bool allToAll, nint send, nint receive, int bytesPerRank)
    {
        var start = allToAll ? MpiNative.Ialltoall : MpiNative.Iallgather;
        var call = allToAll ? "MPI_Ialltoall" : "MPI_Iallgather";
        nint request;
        lock (CallGate) MpiNative.Check(start((void*)send, bytesPerRank, MpiNative.Byte, (void*)receive, bytesPerRank, MpiNative.Byte, _comm, &request), call);
        return request;
    }

    private unsafe nint StartAllToAllV(nint send, nint receive, int[] layout)
    {
        nint request;
        fixed (int* l = layout)
        {
            var n = Size;
            lock (CallGate)
                MpiNative.Check(MpiNative.Ialltoallv((void*)send, l, l + n, MpiNative.Byte, (void*)receive, l + 2 * n, l + 3 * n, MpiNative.Byte, _comm, &request), "MPI_Ialltoallv");
        }
        return request;
    }

    /// <summary>
    /// Byte counts and displacements [sendCounts | sendDispls | receiveCounts | receiveDispls] in one pinned array that
    /// outlives the request (MPI reads the count arrays of a non-blocking collective until it completes).
    /// </summary>
    private int[] ByteLayout<T>(int send, ReadOnlySpan<int> sendCounts, int receive, ReadOnlySpan<int> receiveCounts) where T : unmanaged
    {
        ThrowIfUnusable("AllToAllV");
        var n = Size;
        if (sendCounts.Length != n || receiveCounts.Length != n)
            throw new ArgumentException($"AllToAllV on {n} ranks: sendCounts and receiveCounts need {n} entries (got {sendCounts.Length} and {receiveCounts.Length}).");
        var layout = GC.AllocateArray<int>(4 * n, pinned: true);
        long sendAt = 0, receiveAt = 0;
        for (var r = 0; r < n; r++)
        {
            if (sendCounts[r] < 0 || receiveCounts[r] < 0) throw new ArgumentException($"AllToAllV: counts must not be negative (rank {r}).");
            layout[r] = Bytes<T>(sendCounts[r], "AllToAllV");
            layout[n + r] = Bytes<T>(sendAt, "AllToAllV");
            layout[2 * n + r] = Bytes<T>(receiveCounts[r], "AllToAllV");
            layout[3 * n + r] = Bytes<T>(receiveAt, "AllToAllV");
            sendAt += sendCounts[r];
            receiveAt += receiveCounts[r];
        }
        if (sendAt > send) throw new ArgumentException($"AllToAllV: sendCounts add up to {sendAt} but send holds {send} elements.");
        if (receiveAt > receive) throw new ArgumentException($"AllToAllV: receiveCounts add up to {receiveAt} but receive holds {receive} elements.");
        return layout;
    }

    private (nint Type, nint Op) Reduction<T>(ReduceOp op, string operation) where T : unmanaged
    {
        ThrowIfUnusable(operation);
        var type = MpiNative.ReductionType<T>(operation);
        var mpiOp = op switch
        {
            ReduceOp.Sum => MpiNative.OpSum,
            ReduceOp.Max => MpiNative.OpMax,
            ReduceOp.Min => MpiNative.OpMin,
            _ => throw new ArgumentOutOfRangeException(nameof(op), op, $"{operation}: unknown reduction."),
        };
        return (type, mpiOp);
    }

    /// <summary>MPI counts are ints: a buffer of more than 2³¹−1 bytes must be sent in parts.</summary>
    private static int Bytes<T>(long elements, string operation) where T : unmanaged
    {
        var bytes = elements * Unsafe.SizeOf<T>();
        if (bytes > int.MaxValue)
            throw new ArgumentException($"{operation}: {bytes} bytes exceed MPI's int count (2³¹−1); split the buffer.");
        return (int)bytes;
    }

    private static unsafe nint Pointer(MemoryHandle pin) => (nint)pin.Pointer;

    private void CheckRoot(int root)
    {
        ThrowIfUnusable("Broadcast");
        if ((uint)root >= (uint)Size) throw new ArgumentOutOfRangeException(nameof(root), root, $"Rank must be in [0, {Size}).");
    }

    private void CheckBlocks(long whole, long block, string operation, string rule)
    {
        ThrowIfUnusable(operation);
        if (whole != block * Size) throw new ArgumentException($"{operation} on {Size} ranks: {rule} (got {whole} and {block}).");
    }

    private void CheckAllToAll(int send, int receive)
    {
        ThrowIfUnusable("AllToAll");
        if (send != receive || send % Size != 0)
            throw new ArgumentException($"AllToAll on {Size} ranks: send and receive must have the same length, a multiple of {Size} (got {send} and {receive}).");
    }
}
