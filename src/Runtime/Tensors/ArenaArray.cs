using System.Runtime.CompilerServices;

namespace DeepSeek.Runtime.Tensors;

/// <summary>
/// Names one buffer of an <see cref="ArenaArray{T}"/>: the arena it came from and its element range there.
/// </summary>
/// <param name="ArenaId">Process-unique id of the arena that issued it.</param>
/// <param name="Offset">First element.</param>
/// <param name="Length">Element count.</param>
public readonly record struct ArenaSlice(long ArenaId, int Offset, int Length);

/// <summary>
/// The managed counterpart of <see cref="ArenaPlan"/> + <see cref="Arena"/> for generic numeric code (llm.c's habit: every
/// activation of a step in one planned buffer). Buffers are planned by name and element count, each starting on a
/// 64-byte boundary relative to the block; the first access allocates one <typeparamref name="T"/>[] holding them all
/// (zeroed), after which planning is closed. Managed because the training code is generic over
/// <c>IFloatingPointIeee754&lt;T&gt;</c> (fp32 training, fp64 gradient checks), which cannot take the <c>unmanaged</c>
/// constraint <see cref="Arena"/> needs, and because the GC then owns the block: nothing to dispose, and spans stay
/// valid for as long as the owner of the arena is reachable.
/// </summary>
/// <typeparam name="T">Element type.</typeparam>
public sealed class ArenaArray<T>
{
    private static long s_nextId;

    private readonly List<(string Name, int Offset, int Length)> _buffers = [];
    private T[]? _block;
    private long _cursor;
    private long _end;

    /// <summary>Process-unique id, carried by every <see cref="ArenaSlice"/> this arena issues.</summary>
    public long Id { get; } = Interlocked.Increment(ref s_nextId);

    /// <summary>Elements the block holds (planned buffers plus alignment padding).</summary>
    public long Length => _end;

    /// <summary>Bytes of the block (what a step's activations cost).</summary>
    public long Bytes => _end * Unsafe.SizeOf<T>();

    /// <summary>True once the block was allocated; <see cref="Add"/> then throws.</summary>
    public bool IsAllocated => _block is not null;

    /// <summary>Every buffer in the order added: name, first element, element count (for diagnostics and dumps).</summary>
    public IReadOnlyList<(string Name, int Offset, int Length)> Buffers => _buffers;

    /// <summary>Plans a buffer of <paramref name="count"/> elements at the next 64-byte boundary.</summary>
    /// <param name="name">Name for diagnostics (e.g. <c>"layer3.attn.q"</c>); write the shape in a comment beside the call.</param>
    /// <param name="count">Element count (≥ 0).</param>
    /// <exception cref="ArgumentException"><paramref name="name"/> is empty or <paramref name="count"/> is negative.</exception>
    /// <exception cref="InvalidOperationException">The block was already allocated, or the plan outgrew one managed array.</exception>
    public ArenaSlice Add(string name, long count)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if (_block is not null)
            throw new InvalidOperationException($"cannot add buffer '{name}': the arena's block was already allocated; plan every buffer before the first use");
        var align = Math.Max(1, ArenaPlan.Alignment / Unsafe.SizeOf<T>());
        var offset = (_cursor + align - 1) / align * align;
        if (offset + count > Array.MaxLength)
            throw new InvalidOperationException($"buffer '{name}' of {count} elements takes the arena past {Array.MaxLength} elements of {typeof(T).Name}, the most one managed array holds");
        _buffers.Add((name, (int)offset, (int)count));
        _cursor = offset + count;
        _end = Math.Max(_end, _cursor);
        return new ArenaSlice(Id, (int)offset, (int)count);
    }

    /// <summary>
    /// Starts an overlay: buffers added from now on start again at the beginning of the block and share memory with
    /// those of earlier overlays — scratch of users that never run at the same time (one block's backward after
    /// another's). The block is as long as the longest overlay. Without overlays every buffer has memory of its own.
    /// </summary>
    /// <exception cref="InvalidOperationException">The block was already allocated.</exception>
    public void BeginOverlay()
    {
        if (_block is not null) throw new InvalidOperationException("cannot start an overlay: the arena's block was already allocated");
        _cursor = 0;
    }

    /// <summary>Allocates the block now (it is otherwise allocated on first access). Idempotent.</summary>
    public void Allocate() => _block ??= new T[_end];

    /// <summary>The buffer's elements (allocating the block on first access).</summary>
    /// <exception cref="ArgumentException"><paramref name="slice"/> came from another arena.</exception>
    public Span<T> this[ArenaSlice slice]
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get
        {
            if (slice.ArenaId != Id) ThrowForeign(slice);
            return (_block ??= new T[_end]).AsSpan(slice.Offset, slice.Length);
        }
    }

    /// <summary>The first <paramref name="length"/> elements of the buffer (a shorter use than planned, e.g. fewer rows).</summary>
    /// <exception cref="ArgumentException"><paramref name="slice"/> came from another arena or is shorter than <paramref name="length"/>.</exception>
    public Span<T> Get(ArenaSlice slice, int length)
    {
        if ((uint)length > (uint)slice.Length)
            throw new ArgumentException($"{length} elements requested from a buffer of {slice.Length}", nameof(length));
        return this[slice][..length];
    }

    private void ThrowForeign(ArenaSlice slice) =>
        throw new ArgumentException($"buffer {slice} was issued by arena {slice.ArenaId}, not by this arena {Id}", nameof(slice));
}
