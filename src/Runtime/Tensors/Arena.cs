using System.Runtime.InteropServices;

namespace DeepSeek.Runtime.Tensors;

/// <summary>
/// One 64-byte-aligned native block holding every buffer of an <see cref="ArenaPlan"/>, zeroed on creation:
/// the run state of a step, so no operation allocates. Spans and views over it are valid until
/// <see cref="Dispose"/>.
/// </summary>
/// <remarks>
/// The block is freed only by <see cref="Dispose"/>; there is deliberately no finalizer, because spans handed out
/// by <see cref="Span{T}"/> do not keep the arena reachable, and a finalizer could free the block under a live span.
/// (<see cref="View{T}"/> keeps the arena as its owner.) Keep the arena referenced, e.g. in an
/// <see cref="ArenaCache{TKey}"/>, and dispose it when done. The allocation is reported to the GC with
/// <see cref="GC.AddMemoryPressure(long)"/>. Not thread-safe against <see cref="Dispose"/>; concurrent readers and
/// writers of distinct buffers are fine.
/// </remarks>
public sealed unsafe class Arena : IDisposable
{
    private readonly ArenaPlan _plan;
    private byte* _block;

    /// <summary>Allocates and zeroes a block of <see cref="ArenaPlan.TotalBytes"/>; freezes <paramref name="plan"/>.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="plan"/> is null.</exception>
    /// <exception cref="OutOfMemoryException">The block could not be allocated.</exception>
    public Arena(ArenaPlan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        plan.Freeze();
        _plan = plan;
        Bytes = plan.TotalBytes;
        if (Bytes > 0 && (ulong)Bytes > nuint.MaxValue)
            throw new OutOfMemoryException($"arena of {Bytes} bytes exceeds this process's address space");
        // Allocate at least one alignment unit so the pointer is never null (empty plans included).
        var size = (nuint)Math.Max(Bytes, ArenaPlan.Alignment);
        _block = (byte*)NativeMemory.AlignedAlloc(size, ArenaPlan.Alignment);
        NativeMemory.Clear(_block, size);
        if (Bytes > 0) GC.AddMemoryPressure(Bytes);
    }

    /// <summary>The plan this arena was built from.</summary>
    public ArenaPlan Plan => _plan;

    /// <summary>Size of the block in bytes (<see cref="ArenaPlan.TotalBytes"/>).</summary>
    public long Bytes { get; }

    /// <summary>True after <see cref="Dispose"/>.</summary>
    public bool IsDisposed => _block == null;

    /// <summary>Address of the block (64-byte aligned).</summary>
    /// <exception cref="ObjectDisposedException">The arena was disposed.</exception>
    public nint Address => (nint)Block;

    /// <summary>The buffer as a span of its planned element count.</summary>
    /// <exception cref="ArgumentException"><paramref name="id"/> is from another plan or <typeparamref name="T"/> is not the planned type.</exception>
    /// <exception cref="InvalidOperationException">The buffer has more than <see cref="int.MaxValue"/> elements (use <see cref="View{T}"/>).</exception>
    /// <exception cref="ObjectDisposedException">The arena was disposed.</exception>
    public Span<T> Span<T>(BufferId id) where T : unmanaged
    {
        var count = Locate<T>(id, out var pointer);
        if (count > int.MaxValue)
            throw new InvalidOperationException($"buffer '{_plan.NameOf(id)}' has {count} elements, too many for one span; use View");
        return new global::System.Span<T>(pointer, (int)count);
    }

    /// <summary>
    /// The buffer seen as a contiguous tensor of <paramref name="shape"/>, which may use fewer elements than planned
    /// (e.g. a shorter sequence than the plan's maximum) but not more. The view keeps this arena as its owner.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="id"/> is from another plan, <typeparamref name="T"/> is not the planned type, or <paramref name="shape"/> needs more elements than the buffer holds.</exception>
    /// <exception cref="ObjectDisposedException">The arena was disposed.</exception>
    public TensorView<T> View<T>(BufferId id, Shape shape) where T : unmanaged
    {
        var count = Locate<T>(id, out var pointer);
        if (!shape.TryGetElementCount(out var needed) || needed > count)
            throw new ArgumentException($"shape {shape} does not fit buffer '{_plan.NameOf(id)}': expected at most {count} elements", nameof(shape));
        return new TensorView<T>(pointer, shape, this);
    }

    /// <summary>Zeroes the whole block.</summary>
    /// <exception cref="ObjectDisposedException">The arena was disposed.</exception>
    public void Clear() => NativeMemory.Clear(Block, (nuint)Bytes);

    /// <summary>Frees the block; later use throws <see cref="ObjectDisposedException"/>. Idempotent.</summary>
    public void Dispose()
    {
        var block = _block;
        if (block == null) return;
        _block = null;
        NativeMemory.AlignedFree(block);
        if (Bytes > 0) GC.RemoveMemoryPressure(Bytes);
    }

    private byte* Block
    {
        get
        {
            var block = _block;
            ObjectDisposedException.ThrowIf(block == null, this);
            return block;
        }
    }

    private long Locate<T>(BufferId id, out T* pointer) where T : unmanaged
    {
        var block = Block;
        var entry = _plan.Get(id);
        if (entry.Type != typeof(T))
            throw new ArgumentException($"buffer '{_plan.NameOf(id)}' was planned as {entry.Type.Name}, not {typeof(T).Name}", nameof(id));
        pointer = (T*)(block + entry.Offset);
        return entry.Count;
    }
}
