using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace DeepSeek.Runtime.Tensors;

/// <summary>
/// A typed, strided view over memory this view does not own: a memory-mapped checkpoint, a pinned buffer or an
/// activation arena. Slicing and transposing never copy. The memory must outlive the view: the view keeps a
/// reference to <see cref="Owner"/> so the GC cannot collect it, but disposing the owner invalidates the view.
/// </summary>
/// <typeparam name="T">Element type as stored (e.g. <see cref="float"/>, <see cref="ushort"/> for BF16 bits, <see cref="byte"/> for FP8 codes).</typeparam>
public readonly unsafe struct TensorView<T> where T : unmanaged
{
    private readonly T* _data;
    private readonly long[] _strides;

    /// <summary>Creates a contiguous row-major view of <paramref name="shape"/> at <paramref name="data"/>.</summary>
    public TensorView(T* data, Shape shape, object? owner = null)
        : this(data, shape, shape.ContiguousStrides(), owner)
    {
    }

    /// <summary>Creates a strided view; <paramref name="strides"/> are in elements, one per dimension.</summary>
    public TensorView(T* data, Shape shape, long[] strides, object? owner = null)
    {
        ArgumentNullException.ThrowIfNull(strides);
        if (strides.Length != shape.Rank)
            throw new ArgumentException($"{strides.Length} strides for a rank-{shape.Rank} shape {shape}", nameof(strides));
        if (data == null && shape.ElementCount != 0)
            throw new ArgumentNullException(nameof(data), $"null data for non-empty shape {shape}");
        _data = data;
        Shape = shape;
        _strides = strides;
        Owner = owner;
    }

    /// <summary>The dimensions.</summary>
    public Shape Shape { get; }

    /// <summary>Strides in elements, one per dimension.</summary>
    public ReadOnlySpan<long> Strides => _strides;

    /// <summary>The object that owns the memory (kept alive by this view), if any.</summary>
    public object? Owner { get; }

    /// <summary>Address of element [0, 0, ...].</summary>
    public T* Pointer => _data;

    /// <summary>Number of dimensions.</summary>
    public int Rank => Shape.Rank;

    /// <summary>Number of elements.</summary>
    public long ElementCount => Shape.ElementCount;

    /// <summary>True when the elements are laid out row-major without gaps.</summary>
    public bool IsContiguous
    {
        get
        {
            long expected = 1;
            for (var i = Rank - 1; i >= 0; i--)
            {
                if (Shape[i] != 1 && _strides[i] != expected) return false;
                expected *= Shape[i];
            }
            return true;
        }
    }

    /// <summary>The elements as a span; only for contiguous views of fewer than 2^31 elements.</summary>
    public Span<T> Span
    {
        get
        {
            if (!IsContiguous) throw new InvalidOperationException($"view of shape {Shape} is not contiguous; copy it first");
            var n = ElementCount;
            if (n > int.MaxValue) throw new InvalidOperationException($"view of {n} elements is too large for one span; slice it");
            return new Span<T>(_data, (int)n);
        }
    }

    /// <summary>Element at the given indices (one per dimension). Bounds are checked.</summary>
    public ref T this[params ReadOnlySpan<long> index]
    {
        get
        {
            if (index.Length != Rank) throw new ArgumentException($"{index.Length} indices for rank {Rank}", nameof(index));
            long offset = 0;
            for (var i = 0; i < index.Length; i++)
            {
                if ((ulong)index[i] >= (ulong)Shape[i]) throw new IndexOutOfRangeException($"index {index[i]} out of range for axis {i} of {Shape}");
                offset += index[i] * _strides[i];
            }
            return ref _data[offset];
        }
    }

    /// <summary>Row <paramref name="i"/> of the outermost axis: a view of rank − 1.</summary>
    public TensorView<T> Row(long i) => Select(0, i);

    /// <summary>Fixes <paramref name="axis"/> at <paramref name="index"/>, dropping that axis.</summary>
    public TensorView<T> Select(int axis, long index)
    {
        CheckAxis(axis);
        if ((ulong)index >= (ulong)Shape[axis]) throw new IndexOutOfRangeException($"index {index} out of range for axis {axis} of {Shape}");
        var dims = new long[Rank - 1];
        var strides = new long[Rank - 1];
        for (int i = 0, j = 0; i < Rank; i++)
        {
            if (i == axis) continue;
            dims[j] = Shape[i];
            strides[j++] = _strides[i];
        }
        return new TensorView<T>(_data + index * _strides[axis], new Shape(dims), strides, Owner);
    }

    /// <summary>Elements [<paramref name="start"/>, <paramref name="start"/> + <paramref name="length"/>) along <paramref name="axis"/>.</summary>
    public TensorView<T> Slice(int axis, long start, long length)
    {
        CheckAxis(axis);
        if (start < 0 || length < 0 || start + length > Shape[axis])
            throw new ArgumentOutOfRangeException(nameof(start), $"slice [{start}, {start + length}) out of range for axis {axis} of {Shape}");
        var dims = Shape.Dims.ToArray();
        dims[axis] = length;
        return new TensorView<T>(_data + start * _strides[axis], new Shape(dims), (long[])_strides.Clone(), Owner);
    }

    /// <summary>Swaps two axes (a transpose) without moving data.</summary>
    public TensorView<T> Transpose(int axis0, int axis1)
    {
        CheckAxis(axis0);
        CheckAxis(axis1);
        var dims = Shape.Dims.ToArray();
        var strides = (long[])_strides.Clone();
        (dims[axis0], dims[axis1]) = (dims[axis1], dims[axis0]);
        (strides[axis0], strides[axis1]) = (strides[axis1], strides[axis0]);
        return new TensorView<T>(_data, new Shape(dims), strides, Owner);
    }

    /// <summary>The same contiguous elements seen with another shape of equal element count.</summary>
    public TensorView<T> Reshape(Shape shape)
    {
        if (!IsContiguous) throw new InvalidOperationException($"cannot reshape non-contiguous view of shape {Shape}");
        if (shape.ElementCount != ElementCount) throw new ArgumentException($"cannot reshape {Shape} ({ElementCount} elements) to {shape} ({shape.ElementCount})", nameof(shape));
        return new TensorView<T>(_data, shape, Owner);
    }

    /// <summary>Reinterprets a contiguous view as another element type of the same size (e.g. BF16 bits as <see cref="ushort"/>).</summary>
    public TensorView<TTo> Cast<TTo>() where TTo : unmanaged
    {
        if (sizeof(TTo) != sizeof(T)) throw new InvalidOperationException($"cannot cast {typeof(T).Name} to {typeof(TTo).Name}: sizes differ");
        return new TensorView<TTo>((TTo*)_data, Shape, (long[])_strides.Clone(), Owner);
    }

    /// <summary>Copies the elements, row-major, into <paramref name="destination"/> (which must hold <see cref="ElementCount"/>).</summary>
    public void CopyTo(Span<T> destination)
    {
        var n = ElementCount;
        if (destination.Length < n) throw new ArgumentException($"destination holds {destination.Length} elements, view has {n}", nameof(destination));
        if (IsContiguous) { Span.CopyTo(destination); return; }
        var index = new long[Rank];
        for (var k = 0; k < n; k++)
        {
            long offset = 0;
            for (var i = 0; i < Rank; i++) offset += index[i] * _strides[i];
            destination[k] = _data[offset];
            for (var i = Rank - 1; i >= 0; i--)
            {
                if (++index[i] < Shape[i]) break;
                index[i] = 0;
            }
        }
    }

    /// <summary>Formats as <c>TensorView&lt;T&gt;[shape]</c>.</summary>
    public override string ToString() => $"TensorView<{typeof(T).Name}>{Shape}";

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void CheckAxis(int axis)
    {
        Debug.Assert(_strides is not null);
        if ((uint)axis >= (uint)Rank) throw new ArgumentOutOfRangeException(nameof(axis), $"axis {axis} out of range for rank {Rank}");
    }
}
