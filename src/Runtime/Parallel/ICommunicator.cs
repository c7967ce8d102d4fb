// The namespace is Distributed, not Parallel: a DeepSeek.Runtime.Parallel namespace would hide
// System.Threading.Tasks.Parallel (Parallel.For) from all code in DeepSeek.Runtime.* namespaces.
namespace DeepSeek.Runtime.Distributed;

/// <summary>
/// A group of ranks that exchange data: the seam between the parallel algorithms (expert parallelism, ZeRO data
/// parallelism, pipeline schedules) and the engine that moves bytes — threads in one process
/// (<see cref="InProcessCommunicator"/>), processes under <c>mpirun</c> (MPI) or GPUs (NCCL).
/// </summary>
/// <remarks>
/// <para>Semantics follow MPI. Collectives (every method but <c>Send</c>/<c>Receive</c>) must be called by every rank
/// of the group in the same order with matching arguments; a collective returns once this rank's part is done.
/// Buffers are laid out in rank order: the <c>i</c>-th block of an all-gather result is rank <c>i</c>'s data.</para>
/// <para>Reductions are defined for <see cref="float"/>, <see cref="double"/>, <see cref="int"/> and <see cref="long"/>;
/// data movement works for any unmanaged element type (it moves bytes).</para>
/// <para>Point-to-point messages are matched by (source, tag) and never overtake each other on the same
/// (source, tag); a send does not wait for the matching receive.</para>
/// <para>Failure: when any rank fails (throws, is killed, times out, cancels a collective or calls
/// <see cref="Abort"/>) the group is broken: pending and later operations on every rank end with a
/// <see cref="CommunicatorException"/> (<see cref="RankFailedException"/> naming the rank) instead of waiting forever.
/// Cancelling an operation through its token breaks the group the same way, since the other ranks can no longer
/// complete it.</para>
/// </remarks>
public interface ICommunicator : IDisposable
{
    /// <summary>This rank's index in the group, 0 ≤ Rank &lt; Size.</summary>
    int Rank { get; }

    /// <summary>Number of ranks in the group.</summary>
    int Size { get; }

    /// <summary>Waits until every rank has entered the barrier.</summary>
    void Barrier(CancellationToken cancellationToken = default);

    /// <summary>Copies <paramref name="buffer"/> of rank <paramref name="root"/> into <paramref name="buffer"/> of every rank (same length everywhere).</summary>
    void Broadcast<T>(Span<T> buffer, int root, CancellationToken cancellationToken = default) where T : unmanaged;

    /// <summary>
    /// In place: every rank's <paramref name="buffer"/> becomes the element-wise reduction over all ranks' buffers
    /// (same length everywhere). The result is bit-identical on every rank.
    /// </summary>
    void AllReduce<T>(Span<T> buffer, ReduceOp op = ReduceOp.Sum, CancellationToken cancellationToken = default) where T : unmanaged;

    /// <summary>
    /// Concatenates every rank's <paramref name="send"/> (same length n everywhere) in rank order into
    /// <paramref name="receive"/> (length Size·n).
    /// </summary>
    void AllGather<T>(ReadOnlySpan<T> send, Span<T> receive, CancellationToken cancellationToken = default) where T : unmanaged;

    /// <summary>
    /// Reduces <paramref name="send"/> (length Size·n, same on every rank) element-wise across ranks and leaves block
    /// <see cref="Rank"/> of the result (elements [Rank·n, (Rank+1)·n)) in <paramref name="receive"/> (length n).
    /// </summary>
    void ReduceScatter<T>(ReadOnlySpan<T> send, Span<T> receive, ReduceOp op = ReduceOp.Sum, CancellationToken cancellationToken = default) where T : unmanaged;

    /// <summary>
    /// Block j of <paramref name="send"/> (length Size·n, blocks of n) goes to rank j, and block i of
    /// <paramref name="receive"/> (length Size·n) comes from rank i.
    /// </summary>
    void AllToAll<T>(ReadOnlySpan<T> send, Span<T> receive, CancellationToken cancellationToken = default) where T : unmanaged;

    /// <summary>
    /// All-to-all with variable counts. <paramref name="send"/> holds, contiguously in rank order,
    /// <c>sendCounts[j]</c> elements for each rank j; <paramref name="receive"/> receives, contiguously in rank order,
    /// <c>receiveCounts[i]</c> elements from each rank i. Both count arrays have <see cref="Size"/> entries, and
    /// <c>receiveCounts[i]</c> on rank r must equal <c>sendCounts[r]</c> on rank i (exchange counts first with
    /// <see cref="AllToAll{T}(ReadOnlySpan{T}, Span{T}, CancellationToken)"/> when they are not known).
    /// </summary>
    void AllToAllV<T>(ReadOnlySpan<T> send, ReadOnlySpan<int> sendCounts, Span<T> receive, ReadOnlySpan<int> receiveCounts,
        CancellationToken cancellationToken = default) where T : unmanaged;

    /// <summary>Sends <paramref name="data"/> to rank <paramref name="destination"/> with <paramref name="tag"/> (≥ 0); may return before it is received.</summary>
    void Send<T>(ReadOnlySpan<T> data, int destination, int tag, CancellationToken cancellationToken = default) where T : unmanaged;

    /// <summary>
    /// Receives the next message from rank <paramref name="source"/> with <paramref name="tag"/> into
    /// <paramref name="buffer"/> and returns its element count; a message longer than the buffer is an error.
    /// </summary>
    int Receive<T>(Span<T> buffer, int source, int tag, CancellationToken cancellationToken = default) where T : unmanaged;

    /// <summary>
    /// Collective: partitions the group into sub-groups of the ranks that pass the same <paramref name="color"/>
    /// (≥ 0), ranked within each sub-group by (<paramref name="key"/>, rank in this group) — e.g. expert, pipeline
    /// and data groups. The sub-group shares this group's failure state; dispose it when done.
    /// </summary>
    ICommunicator Split(int color, int key);

    /// <summary>
    /// Ends the whole job because this rank cannot go on: every other rank's pending and later operations fail with
    /// <see cref="RankFailedException"/> naming this rank. Under MPI this is <c>MPI_Abort</c> and does not return
    /// (the launcher ends every process).
    /// </summary>
    void Abort(string reason);

    /// <summary>Asynchronous <see cref="Barrier"/>.</summary>
    ValueTask BarrierAsync(CancellationToken cancellationToken = default);

    /// <summary>Asynchronous <see cref="Broadcast{T}"/>.</summary>
    ValueTask BroadcastAsync<T>(Memory<T> buffer, int root, CancellationToken cancellationToken = default) where T : unmanaged;

    /// <summary>Asynchronous <see cref="AllReduce{T}"/>.</summary>
    ValueTask AllReduceAsync<T>(Memory<T> buffer, ReduceOp op = ReduceOp.Sum, CancellationToken cancellationToken = default) where T : unmanaged;

    /// <summary>Asynchronous <see cref="AllGather{T}"/>.</summary>
    ValueTask AllGatherAsync<T>(ReadOnlyMemory<T> send, Memory<T> receive, CancellationToken cancellationToken = default) where T : unmanaged;

    /// <summary>Asynchronous <see cref="ReduceScatter{T}"/>.</summary>
    ValueTask ReduceScatterAsync<T>(ReadOnlyMemory<T> send, Memory<T> receive, ReduceOp op = ReduceOp.Sum, CancellationToken cancellationToken = default) where T : unmanaged;

    /// <summary>Asynchronous <see cref="AllToAll{T}"/>.</summary>
    ValueTask AllToAllAsync<T>(ReadOnlyMemory<T> send, Memory<T> receive, CancellationToken cancellationToken = default) where T : unmanaged;

    /// <summary>Asynchronous <see cref="AllToAllV{T}"/>.</summary>
    ValueTask AllToAllVAsync<T>(ReadOnlyMemory<T> send, ReadOnlyMemory<int> sendCounts, Memory<T> receive, ReadOnlyMemory<int> receiveCounts,
        CancellationToken cancellationToken = default) where T : unmanaged;

    /// <summary>Asynchronous <see cref="Send{T}"/>: completes when the data has been handed to the transport (the buffer may then be reused).</summary>
    ValueTask SendAsync<T>(ReadOnlyMemory<T> data, int destination, int tag, CancellationToken cancellationToken = default) where T : unmanaged;

    /// <summary>Asynchronous <see cref="Receive{T}"/>.</summary>
    ValueTask<int> ReceiveAsync<T>(Memory<T> buffer, int source, int tag, CancellationToken cancellationToken = default) where T : unmanaged;
}
