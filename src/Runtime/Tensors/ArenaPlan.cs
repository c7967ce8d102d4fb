using System.Runtime.CompilerServices;

namespace DeepSeek.Runtime.Tensors;

/// <summary>
/// The layout of every activation buffer one step needs for one shape (llm.c style): built once per shape,
/// then an <see cref="Arena"/> allocates it as a single block. Each buffer starts on a 64-byte boundary (a cache
/// line and one AVX-512 vector). The plan freezes when the first arena is built from it, so a
/// <see cref="BufferId"/> means the same bytes in every arena of the plan.
/// </summary>
public sealed class ArenaPlan
{
    /// <summary>Alignment in bytes of the block and of every buffer in it.</summary>
    public const int Alignment = 64;

    private static long s_nextId;

    private readonly List<Entry> _entries = [];
    private readonly List<(string Name, long Offset, long Bytes)> _buffers = [];
    private long _end;

    /// <summary>Process-unique id, carried by every <see cref="BufferId"/> this plan issues.</summary>
    public long Id { get; } = Interlocked.Increment(ref s_nextId);

    /// <summary>Bytes the arena needs: the end of the last buffer rounded up to <see cref="Alignment"/>.</summary>
    public long TotalBytes => AlignUp(_end);

    /// <summary>Every buffer so far, in the order added: name, byte offset from the block start, size in bytes.</summary>
    public IReadOnlyList<(string Name, long Offset, long Bytes)> Buffers => _buffers;

    /// <summary>True once an arena was built from this plan; <see cref="Add{T}"/> then throws.</summary>
    public bool IsFrozen { get; private set; }

    /// <summary>
    /// Adds a buffer of <paramref name="count"/> elements of <typeparamref name="T"/> at the next 64-byte boundary.
    /// </summary>
    /// <param name="name">Name for diagnostics and activation dumps (e.g. <c>"layer3.attn.q"</c>).</param>
    /// <param name="count">Element count (≥ 0); write the shape in a comment beside the call.</param>
    /// <exception cref="ArgumentException"><paramref name="name"/> is empty or <paramref name="count"/> is negative or too large.</exception>
    /// <exception cref="InvalidOperationException">An arena was already built from this plan.</exception>
    public unsafe BufferId Add<T>(string name, long count) where T : unmanaged
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if (IsFrozen)
            throw new InvalidOperationException($"cannot add buffer '{name}': an arena was already built from this plan; make a new plan for a new shape");
        long bytes, offset, end;
        try
        {
            bytes = checked(count * sizeof(T));
            offset = AlignUp(_end);
            end = checked(offset + bytes);
            _ = checked(AlignUp(end));
        }
        catch (OverflowException)
        {
            throw new ArgumentException($"buffer '{name}' of {count} × {typeof(T).Name} overflows the arena's 64-bit size", nameof(count));
        }
        var id = new BufferId(Id, _entries.Count);
        _entries.Add(new Entry(typeof(T), count, offset));
        _buffers.Add((name, offset, bytes));
        _end = end;
        return id;
    }

    /// <summary>Element type planned for <paramref name="id"/>.</summary>
    public Type ElementType(BufferId id) => Get(id).Type;

    /// <summary>Element count planned for <paramref name="id"/>.</summary>
    public long Count(BufferId id) => Get(id).Count;

    internal void Freeze() => IsFrozen = true;

    internal Entry Get(BufferId id)
    {
        if (id.PlanId != Id)
            throw new ArgumentException($"buffer id {id} was issued by plan {id.PlanId}, not by this arena's plan {Id}", nameof(id));
        if ((uint)id.Index >= (uint)_entries.Count)
            throw new ArgumentException($"buffer id {id} is out of range: the plan has {_entries.Count} buffers", nameof(id));
        return _entries[id.Index];
    }

    internal string NameOf(BufferId id) => _buffers[id.Index].Name;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static long AlignUp(long bytes) => checked(bytes + (Alignment - 1)) & ~(long)(Alignment - 1);

    internal readonly record struct Entry(Type Type, long Count, long Offset);
}
