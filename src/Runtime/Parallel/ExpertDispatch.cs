namespace DeepSeek.Runtime.Distributed;

/// <summary>
/// One MoE dispatch over an expert-parallel group: every (token, chosen expert) pair of this rank travels, as one row,
/// to the rank holding the expert (all-to-all with variable counts), the experts run there, and the results travel
/// back in the same layout. Pairs are sent grouped by destination rank, in (token, choice) order within a rank.
/// Collective: every rank of the group builds its plan in the same step.
/// </summary>
internal sealed class ExpertDispatch
{
    private readonly ICommunicator _comm;
    private readonly int[] _sendOrder;        // pair index (t·k + j) of each sent row, grouped by destination
    private readonly int[] _sendCounts;       // pairs per destination rank
    private readonly int[] _receiveCounts;    // pairs per source rank

    private ExpertDispatch(ICommunicator comm, int[] sendOrder, int[] sendCounts, int[] receiveCounts, int[] receivedExperts)
    {
        _comm = comm;
        _sendOrder = sendOrder;
        _sendCounts = sendCounts;
        _receiveCounts = receiveCounts;
        ReceivedExperts = receivedExperts;
    }

    /// <summary>Global expert id of each received row, in receive order (source rank, then the source's pair order).</summary>
    public int[] ReceivedExperts { get; }

    /// <summary>Pairs this rank sent (tokens × k).</summary>
    public int Pairs => _sendOrder.Length;

    /// <summary>Plans the dispatch of <paramref name="ids"/> [tokens, k] and exchanges counts and expert ids.</summary>
    public static ExpertDispatch Plan(ICommunicator comm, ExpertPlacement placement, ReadOnlySpan<int> ids)
    {
        if (placement.Ranks != comm.Size)
            throw new ArgumentException($"The expert placement is for {placement.Ranks} ranks but the communicator has {comm.Size}.");
        var sendCounts = new int[comm.Size];
        foreach (var e in ids)
        {
            if ((uint)e >= (uint)placement.Experts) throw new ArgumentOutOfRangeException(nameof(ids), e, $"Expert id outside [0, {placement.Experts}).");
            sendCounts[placement.Owner(e)]++;
        }
        var next = new int[comm.Size];
        for (var r = 1; r < comm.Size; r++) next[r] = next[r - 1] + sendCounts[r - 1];
        var sendOrder = new int[ids.Length];
        var sendExperts = new int[ids.Length];
        for (var i = 0; i < ids.Length; i++)
        {
            var at = next[placement.Owner(ids[i])]++;
            sendOrder[at] = i;
            sendExperts[at] = ids[i];
        }
        var receiveCounts = new int[comm.Size];
        comm.AllToAll<int>(sendCounts, receiveCounts);
        var receivedExperts = new int[receiveCounts.Sum()];
        comm.AllToAllV<int>(sendExperts, sendCounts, receivedExperts, receiveCounts);
        return new ExpertDispatch(comm, sendOrder, sendCounts, receiveCounts, receivedExperts);
    }

    /// <summary>Sends row t of <paramref name="tokens"/> [tokens, width] for each pair of token t; returns the received rows [received, width].</summary>
    public T[] TokensToExperts<T>(ReadOnlySpan<T> tokens, int width, int k) where T : unmanaged =>
        ToExperts(tokens, width, pair => pair / k);

    /// <summary>Sends row i of <paramref name="pairs"/> [pairs, width] for each pair i; returns the received rows [received, width].</summary>
    public T[] PairsToExperts<T>(ReadOnlySpan<T> pairs, int width) where T : unmanaged =>
        ToExperts(pairs, width, pair => pair);

    /// <summary>Returns the experts' rows [received, width] to their senders; the result is indexed by pair [pairs, width].</summary>
    public T[] ExpertsToPairs<T>(ReadOnlySpan<T> received, int width) where T : unmanaged
    {
        var back = new T[Pairs * width];
        _comm.AllToAllV(received, Scale(_receiveCounts, width), back, Scale(_sendCounts, width));
        var pairs = new T[Pairs * width];
        for (var at = 0; at < _sendOrder.Length; at++)
            back.AsSpan(at * width, width).CopyTo(pairs.AsSpan(_sendOrder[at] * width, width));
        return pairs;
    }

    /// <summary>Received-row positions of each of this rank's experts (local index e − first), in receive order.</summary>
    public int[][] RowsPerLocalExpert(ExpertPlacement placement)
    {
        var first = placement.First(_comm.Rank);
        var lists = Enumerable.Range(0, placement.PerRank).Select(_ => new List<int>()).ToArray();
        for (var i = 0; i < ReceivedExperts.Length; i++) lists[ReceivedExperts[i] - first].Add(i);
        return lists.Select(l => l.ToArray()).ToArray();
    }

    private T[] ToExperts<T>(ReadOnlySpan<T> source, int width, Func<int, int> row) where T : unmanaged
    {
        var send = new T[Pairs * width];
        for (var at = 0; at < _sendOrder.Length; at++)
            source.Slice(row(_sendOrder[at]) * width, width).CopyTo(send.AsSpan(at * width, width));
        var received = new T[ReceivedExperts.Length * width];
        _comm.AllToAllV<T>(send, Scale(_sendCounts, width), received, Scale(_receiveCounts, width));
        return received;
    }

    private static int[] Scale(int[] counts, int width) => counts.Select(c => checked(c * width)).ToArray();
}
