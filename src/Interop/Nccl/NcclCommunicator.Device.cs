namespace DeepSeek.Interop.Nccl;

/// <summary>The device API: device pointers and a CUDA stream; each call enqueues on the stream and returns.</summary>
public sealed partial class NcclCommunicator
{
    /// <summary><c>ncclAllReduce</c>: <paramref name="receive"/> = op over ranks of <paramref name="send"/> (<paramref name="count"/> elements; in place when equal).</summary>
    public unsafe void AllReduce(nint send, nint receive, long count, NcclDataType type, NcclRedOp op, nint stream)
    {
        ThrowIfUnusable("AllReduce");
        NcclNative.Check(NcclNative.AllReduce(send, receive, Count(count), type, op, _comm, stream), "ncclAllReduce");
    }

    /// <summary><c>ncclBroadcast</c>: rank <paramref name="root"/>'s <paramref name="send"/> into every rank's <paramref name="receive"/>.</summary>
    public unsafe void Broadcast(nint send, nint receive, long count, NcclDataType type, int root, nint stream)
    {
        ThrowIfUnusable("Broadcast");
        CheckRank(root, nameof(root));
        NcclNative.Check(NcclNative.Broadcast(send, receive, Count(count), type, root, _comm, stream), "ncclBroadcast");
    }

    /// <summary><c>ncclAllGather</c>: <paramref name="receive"/> (Size·<paramref name="sendCount"/>) = every rank's <paramref name="send"/> in rank order.</summary>
    public unsafe void AllGather(nint send, nint receive, long sendCount, NcclDataType type, nint stream)
    {
        ThrowIfUnusable("AllGather");
        NcclNative.Check(NcclNative.AllGather(send, receive, Count(sendCount), type, _comm, stream), "ncclAllGather");
    }

    /// <summary><c>ncclReduceScatter</c>: block <see cref="Rank"/> (<paramref name="receiveCount"/> elements) of the reduction of every rank's <paramref name="send"/>.</summary>
    public unsafe void ReduceScatter(nint send, nint receive, long receiveCount, NcclDataType type, NcclRedOp op, nint stream)
    {
        ThrowIfUnusable("ReduceScatter");
        NcclNative.Check(NcclNative.ReduceScatter(send, receive, Count(receiveCount), type, op, _comm, stream), "ncclReduceScatter");
    }

    /// <summary><c>ncclSend</c> to <paramref name="peer"/>; it completes when the peer has posted the matching <see cref="Receive(nint, long, NcclDataType, int, nint)"/>.</summary>
    public unsafe void Send(nint data, long count, NcclDataType type, int peer, nint stream)
    {
        ThrowIfUnusable("Send");
        CheckRank(peer, nameof(peer));
        NcclNative.Check(NcclNative.Send(data, Count(count), type, peer, _comm, stream), "ncclSend");
    }

    /// <summary><c>ncclRecv</c> of exactly <paramref name="count"/> elements from <paramref name="peer"/>.</summary>
    public unsafe void Receive(nint buffer, long count, NcclDataType type, int peer, nint stream)
    {
        ThrowIfUnusable("Receive");
        CheckRank(peer, nameof(peer));
        NcclNative.Check(NcclNative.Recv(buffer, Count(count), type, peer, _comm, stream), "ncclRecv");
    }

    /// <summary>All-to-all with equal blocks: block j of <paramref name="send"/> to rank j, block i of <paramref name="receive"/> from rank i (one NCCL group of sends and receives).</summary>
    public void AllToAll(nint send, nint receive, long countPerRank, NcclDataType type, nint stream)
    {
        var counts = new long[Size];
        Array.Fill(counts, countPerRank);
        AllToAllV(send, counts, receive, counts, type, stream);
    }

    /// <summary>
    /// All-to-all with variable counts (elements), blocks contiguous in rank order: <c>ncclGroupStart</c>, one
    /// <c>ncclSend</c>/<c>ncclRecv</c> pair per peer, <c>ncclGroupEnd</c>.
    /// </summary>
    public unsafe void AllToAllV(nint send, ReadOnlySpan<long> sendCounts, nint receive, ReadOnlySpan<long> receiveCounts, NcclDataType type, nint stream)
    {
        ThrowIfUnusable("AllToAllV");
        if (sendCounts.Length != Size || receiveCounts.Length != Size)
            throw new ArgumentException($"AllToAllV on {Size} ranks: sendCounts and receiveCounts need {Size} entries (got {sendCounts.Length} and {receiveCounts.Length}).");
        for (var r = 0; r < Size; r++)
            if (sendCounts[r] < 0 || receiveCounts[r] < 0) throw new ArgumentException($"AllToAllV: counts must be ≥ 0 (rank {r}: send {sendCounts[r]}, receive {receiveCounts[r]}).");
        var size = NcclTypes.SizeOf(type);
        long sendAt = 0, receiveAt = 0;
        NcclNative.Check(NcclNative.GroupStart(), "ncclGroupStart");
        var ended = false;
        try
        {
            for (var peer = 0; peer < Size; peer++)
            {
                if (sendCounts[peer] > 0)
                    NcclNative.Check(NcclNative.Send(send + (nint)(sendAt * size), Count(sendCounts[peer]), type, peer, _comm, stream), $"ncclSend (to {peer})");
                if (receiveCounts[peer] > 0)
                    NcclNative.Check(NcclNative.Recv(receive + (nint)(receiveAt * size), Count(receiveCounts[peer]), type, peer, _comm, stream), $"ncclRecv (from {peer})");
                sendAt += sendCounts[peer];
                receiveAt += receiveCounts[peer];
            }
            ended = true;
            NcclNative.Check(NcclNative.GroupEnd(), "ncclGroupEnd");
        }
        finally
        {
            if (!ended) _ = NcclNative.GroupEnd();   // leave no group open after a failed enqueue
        }
    }

    private static nuint Count(long count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        return (nuint)count;
    }

    private void CheckRank(int rank, string name)
    {
        if ((uint)rank >= (uint)Size) throw new ArgumentOutOfRangeException(name, rank, $"Rank must be in [0, {Size}).");
    }
}
