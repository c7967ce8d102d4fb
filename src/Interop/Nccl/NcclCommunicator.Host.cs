using System.Runtime.CompilerServices;
using DeepSeek.Runtime.Distributed;

namespace DeepSeek.Interop.Nccl;

/// <summary><see cref="ICommunicator"/> over host spans, staged through device memory (see the type's remarks).</summary>
public sealed partial class NcclCommunicator
{
    private const int HeaderLongs = 2;   // (tag, bytes) before every host-staged point-to-point message

    /// <inheritdoc/>
    public void Barrier(CancellationToken cancellationToken = default)
    {
        Span<int> token = [0];
        AllReduce(token, ReduceOp.Sum, cancellationToken);
    }

    /// <inheritdoc/>
    public unsafe void Broadcast<T>(Span<T> buffer, int root, CancellationToken cancellationToken = default) where T : unmanaged
    {
        CheckRank(root, nameof(root));
        var bytes = Bytes<T>(buffer.Length);
        fixed (T* p = buffer)
            Staged("ncclBroadcast", bytes, bytes, cancellationToken, (s, r, stream) => Broadcast(s, r, bytes, NcclDataType.Uint8, root, stream), p, p);
    }

    /// <inheritdoc/>
    public unsafe void AllReduce<T>(Span<T> buffer, ReduceOp op = ReduceOp.Sum, CancellationToken cancellationToken = default) where T : unmanaged
    {
        var type = NcclTypes.ReductionType<T>("AllReduce");
        var nccl = NcclTypes.ToNccl(op);
        var (count, bytes) = (buffer.Length, Bytes<T>(buffer.Length));
        fixed (T* p = buffer)
            Staged("ncclAllReduce", bytes, bytes, cancellationToken, (s, r, stream) => AllReduce(s, r, count, type, nccl, stream), p, p);
    }

    /// <inheritdoc/>
    public unsafe void AllGather<T>(ReadOnlySpan<T> send, Span<T> receive, CancellationToken cancellationToken = default) where T : unmanaged
    {
        CheckBlocks(receive.Length, send.Length, "AllGather", "receive.Length must be Size × send.Length");
        var bytes = Bytes<T>(send.Length);
        fixed (T* s = send)
        fixed (T* r = receive)
            Staged("ncclAllGather", bytes, bytes * Size, cancellationToken, (ds, dr, stream) => AllGather(ds, dr, bytes, NcclDataType.Uint8, stream), s, r);
    }

    /// <inheritdoc/>
    public unsafe void ReduceScatter<T>(ReadOnlySpan<T> send, Span<T> receive, ReduceOp op = ReduceOp.Sum, CancellationToken cancellationToken = default) where T : unmanaged
    {
        var type = NcclTypes.ReductionType<T>("ReduceScatter");
        var nccl = NcclTypes.ToNccl(op);
        CheckBlocks(send.Length, receive.Length, "ReduceScatter", "send.Length must be Size × receive.Length");
        var count = receive.Length;
        fixed (T* s = send)
        fixed (T* r = receive)
            Staged("ncclReduceScatter", Bytes<T>(send.Length), Bytes<T>(count), cancellationToken, (ds, dr, stream) => ReduceScatter(ds, dr, count, type, nccl, stream), s, r);
    }

    /// <inheritdoc/>
    public void AllToAll<T>(ReadOnlySpan<T> send, Span<T> receive, CancellationToken cancellationToken = default) where T : unmanaged
    {
        if (send.Length != receive.Length || send.Length % Size != 0)
            throw new ArgumentException($"AllToAll on {Size} ranks: send and receive must have the same length, a multiple of {Size} (got {send.Length} and {receive.Length}).");
        var counts = new int[Size];
        Array.Fill(counts, send.Length / Size);
        AllToAllV(send, counts, receive, counts, cancellationToken);
    }

    /// <inheritdoc/>
    public unsafe void AllToAllV<T>(ReadOnlySpan<T> send, ReadOnlySpan<int> sendCounts, Span<T> receive, ReadOnlySpan<int> receiveCounts,
        CancellationToken cancellationToken = default) where T : unmanaged
    {
        if (sendCounts.Length != Size || receiveCounts.Length != Size)
            throw new ArgumentException($"AllToAllV on {Size} ranks: sendCounts and receiveCounts need {Size} entries (got {sendCounts.Length} and {receiveCounts.Length}).");
        var element = Unsafe.SizeOf<T>();
        var sendBytes = new long[Size];
        var receiveBytes = new long[Size];
        for (var r = 0; r < Size; r++)
        {
            if (sendCounts[r] < 0 || receiveCounts[r] < 0) throw new ArgumentException($"AllToAllV: counts must be ≥ 0 (rank {r}: send {sendCounts[r]}, receive {receiveCounts[r]}).");
            (sendBytes[r], receiveBytes[r]) = ((long)sendCounts[r] * element, (long)receiveCounts[r] * element);
        }
        long sendTotal = sendBytes.Sum(), receiveTotal = receiveBytes.Sum();
        if (sendTotal > Bytes<T>(send.Length)) throw new ArgumentException($"AllToAllV: sendCounts add up to {sendTotal / element} but send holds {send.Length} elements.");
        if (receiveTotal > Bytes<T>(receive.Length)) throw new ArgumentException($"AllToAllV: receiveCounts add up to {receiveTotal / element} but receive holds {receive.Length} elements.");
        fixed (T* s = send)
        fixed (T* r = receive)
            Staged("AllToAllV (ncclSend/ncclRecv group)", sendTotal, receiveTotal, cancellationToken,
                (ds, dr, stream) => AllToAllV(ds, sendBytes, dr, receiveBytes, NcclDataType.Uint8, stream), s, r);
    }

    /// <inheritdoc/>
    public unsafe void Send<T>(ReadOnlySpan<T> data, int destination, int tag, CancellationToken cancellationToken = default) where T : unmanaged
    {
        CheckPeer(destination, tag, "Send");
        var bytes = Bytes<T>(data.Length);
        Span<long> header = [tag, bytes];
        fixed (long* h = header)
            Staged("ncclSend (header)", HeaderLongs * 8, 0, cancellationToken, (ds, _, stream) => Send(ds, HeaderLongs * 8, NcclDataType.Uint8, destination, stream), h, null);
        if (bytes == 0) return;
        fixed (T* p = data)
            Staged("ncclSend", bytes, 0, cancellationToken, (ds, _, stream) => Send(ds, bytes, NcclDataType.Uint8, destination, stream), p, null);
    }

    /// <inheritdoc/>
    public unsafe int Receive<T>(Span<T> buffer, int source, int tag, CancellationToken cancellationToken = default) where T : unmanaged
    {
        CheckPeer(source, tag, "Receive");
        Span<long> header = stackalloc long[HeaderLongs];
        fixed (long* h = header)
            Staged("ncclRecv (header)", 0, HeaderLongs * 8, cancellationToken, (_, dr, stream) => Receive(dr, HeaderLongs * 8, NcclDataType.Uint8, source, stream), null, h);
        var (sentTag, bytes) = (header[0], header[1]);
        if (sentTag != tag)
        {
            AbortNccl($"message with tag {sentTag} where tag {tag} was expected");
            throw new CommunicatorException($"Receive on NCCL rank {Rank}: the next message from rank {source} has tag {sentTag}, not {tag}. " +
                "NCCL has no tag matching: messages between two ranks must be received in the order they were sent. The communicator was aborted.");
        }
        if (bytes > Bytes<T>(buffer.Length) || bytes % Unsafe.SizeOf<T>() != 0)
        {
            AbortNccl($"message of {bytes} bytes for a buffer of {Bytes<T>(buffer.Length)}");
            throw new CommunicatorException($"Receive on NCCL rank {Rank}: rank {source} sent {bytes} bytes, which do not fit the {buffer.Length} elements of {typeof(T).Name} given. The communicator was aborted.");
        }
        if (bytes > 0)
            fixed (T* p = buffer)
                Staged("ncclRecv", 0, bytes, cancellationToken, (_, dr, stream) => Receive(dr, bytes, NcclDataType.Uint8, source, stream), null, p);
        return (int)(bytes / Unsafe.SizeOf<T>());
    }

    /// <inheritdoc/>
    public ValueTask BarrierAsync(CancellationToken cancellationToken = default) =>
        new(Task.Run(() => Barrier(cancellationToken), cancellationToken));

    /// <inheritdoc/>
    public ValueTask BroadcastAsync<T>(Memory<T> buffer, int root, CancellationToken cancellationToken = default) where T : unmanaged =>
        new(Task.Run(() => Broadcast(buffer.Span, root, cancellationToken), cancellationToken));

    /// <inheritdoc/>
    public ValueTask AllReduceAsync<T>(Memory<T> buffer, ReduceOp op = ReduceOp.Sum, CancellationToken cancellationToken = default) where T : unmanaged =>
        new(Task.Run(() => AllReduce(buffer.Span, op, cancellationToken), cancellationToken));

    /// <inheritdoc/>
    public ValueTask AllGatherAsync<T>(ReadOnlyMemory<T> send, Memory<T> receive, CancellationToken cancellationToken = default) where T : unmanaged =>
        new(Task.Run(() => AllGather(send.Span, receive.Span, cancellationToken), cancellationToken));

    /// <inheritdoc/>
    public ValueTask ReduceScatterAsync<T>(ReadOnlyMemory<T> send, Memory<T> receive, ReduceOp op = ReduceOp.Sum, CancellationToken cancellationToken = default) where T : unmanaged =>
        new(Task.Run(() => ReduceScatter(send.Span, receive.Span, op, cancellationToken), cancellationToken));

    /// <inheritdoc/>
    public ValueTask AllToAllAsync<T>(ReadOnlyMemory<T> send, Memory<T> receive, CancellationToken cancellationToken = default) where T : unmanaged =>
        new(Task.Run(() => AllToAll(send.Span, receive.Span, cancellationToken), cancellationToken));

    /// <inheritdoc/>
    public ValueTask AllToAllVAsync<T>(ReadOnlyMemory<T> send, ReadOnlyMemory<int> sendCounts, Memory<T> receive, ReadOnlyMemory<int> receiveCounts,
        CancellationToken cancellationToken = default) where T : unmanaged =>
        new(Task.Run(() => AllToAllV(send.Span, sendCounts.Span, receive.Span, receiveCounts.Span, cancellationToken), cancellationToken));

    /// <inheritdoc/>
    public ValueTask SendAsync<T>(ReadOnlyMemory<T> data, int destination, int tag, CancellationToken cancellationToken = default) where T : unmanaged =>
        new(Task.Run(() => Send(data.Span, destination, tag, cancellationToken), cancellationToken));

    /// <inheritdoc/>
    public ValueTask<int> ReceiveAsync<T>(Memory<T> buffer, int source, int tag, CancellationToken cancellationToken = default) where T : unmanaged =>
        new(Task.Run(() => Receive(buffer.Span, source, tag, cancellationToken), cancellationToken));

    /// <summary>
    /// One host-staged operation: upload <paramref name="sendBytes"/> from <paramref name="host"/>, enqueue
    /// <paramref name="enqueue"/>(device send, device receive, stream), wait for the stream, download
    /// <paramref name="receiveBytes"/> into <paramref name="result"/>. In-place operations pass the same pointer twice.
    /// </summary>
    private unsafe void Staged(string call, long sendBytes, long receiveBytes, CancellationToken cancellationToken, Action<nint, nint, nint> enqueue, void* host, void* result)
    {
        lock (_gate)
        {
            ThrowIfUnusable(call);
            cancellationToken.ThrowIfCancellationRequested();
            var staging = _staging ??= NcclStaging.Create(_options.Device);
            var (send, receive) = staging.Reserve(sendBytes, receiveBytes);
            staging.Upload(send, host, sendBytes);
            enqueue(send, receive, staging.Stream);
            staging.Wait(call, _options.OperationTimeout, cancellationToken, () => AsyncError, AbortNccl);
            staging.Download(result, receive, receiveBytes);
        }
    }

    private static long Bytes<T>(int elements) where T : unmanaged => (long)elements * Unsafe.SizeOf<T>();

    private void CheckBlocks(long whole, long block, string operation, string rule)
    {
        ThrowIfUnusable(operation);
        if (whole != block * Size) throw new ArgumentException($"{operation} on {Size} ranks: {rule} (got {whole} and {block}).");
    }

    private void CheckPeer(int peer, int tag, string operation)
    {
        ThrowIfUnusable(operation);
        CheckRank(peer, "peer");
        ArgumentOutOfRangeException.ThrowIfNegative(tag);
    }
}
