using System.Collections.Concurrent;
using System.Threading.Channels;

namespace DeepSeek.Runtime.Distributed;

/// <summary>
/// The shared state of one in-process group: a rendezvous slot per collective (numbered by each rank's own
/// collective count, as MPI matches collectives by call order) and an unbounded mailbox per (destination, source, tag).
/// Every rank deposits a private copy of its input, so a rank may leave a collective as soon as it has read what it
/// needs; nobody reads another rank's live buffer.
/// </summary>
internal sealed class InProcessGroup(InProcessWorld world, int[] worldRanks)
{
    private readonly Dictionary<long, CollectiveSlot> _slots = [];
    private readonly ConcurrentDictionary<(int Destination, int Source, int Tag), Channel<Array>> _mail = new();

    public InProcessWorld World { get; } = world;

    public int Size => WorldRanks.Length;

    /// <summary>World rank of each rank of this group.</summary>
    public int[] WorldRanks { get; } = worldRanks;

    /// <summary>Adds <paramref name="rank"/>'s deposit to collective number <paramref name="sequence"/>.</summary>
    public CollectiveSlot Arrive(long sequence, int rank, Deposit deposit)
    {
        lock (_slots)
        {
            if (!_slots.TryGetValue(sequence, out var slot))
                _slots[sequence] = slot = new CollectiveSlot(sequence, Size, deposit.Kind);
            if (slot.Kind != deposit.Kind)
            {
                var other = Array.FindIndex(slot.Deposits, d => d is not null);
                var message = $"collective mismatch: call #{sequence + 1} is {slot.Kind} on rank {other} but {deposit.Kind} on rank {rank}";
                World.Break(WorldRanks[rank], message);
                throw new CommunicatorException($"{deposit.Kind}: {message}. Every rank must call the same collectives in the same order.");
            }
            slot.Deposits[rank] = deposit;
            if (++slot.Arrived == Size) slot.Complete.TrySetResult();
            return slot;
        }
    }

    /// <summary>Called by each rank once it has read its result; the last one frees the slot.</summary>
    public void Leave(CollectiveSlot slot)
    {
        lock (_slots)
        {
            if (++slot.Departed == Size) _slots.Remove(slot.Sequence);
        }
    }

    public Channel<Array> Mailbox(int destination, int source, int tag) =>
        _mail.GetOrAdd((destination, source, tag), static _ => Channel.CreateUnbounded<Array>(new UnboundedChannelOptions { SingleReader = false, SingleWriter = false }));
}

/// <summary>Which collective a slot is.</summary>
internal enum CollectiveKind
{
    Barrier,
    Broadcast,
    AllReduce,
    AllGather,
    ReduceScatter,
    AllToAll,
    AllToAllV,
    Split,
}

/// <summary>One rank's input to a collective: a private copy of its data plus the scalar arguments that must agree.</summary>
internal sealed record Deposit(CollectiveKind Kind, Array? Data = null, int[]? Counts = null, int Argument = 0, int Argument2 = 0);

/// <summary>The rendezvous of one collective call.</summary>
internal sealed class CollectiveSlot(long sequence, int size, CollectiveKind kind)
{
    public long Sequence { get; } = sequence;

    public CollectiveKind Kind { get; } = kind;

    public Deposit?[] Deposits { get; } = new Deposit?[size];

    public int Arrived { get; set; }

    public int Departed { get; set; }

    /// <summary>Set when every rank has deposited.</summary>
    public TaskCompletionSource Complete { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Result computed once and shared by all ranks (the sub-groups of a split).</summary>
    public object? Shared { get; set; }
}
