using System.Runtime.CompilerServices;

namespace DeepSeek.Runtime.Tensors;

/// <summary>
/// A tensor's dimensions, outermost first (row-major, as in safetensors and PyTorch). Immutable; up to 8 dims.
/// </summary>
public readonly struct Shape : IEquatable<Shape>
{
    /// <summary>Most dimensions a shape may have.</summary>
    public const int MaxRank = 8;

    private readonly long[]? _dims;

    /// <summary>Creates a shape from its dimensions; each must be ≥ 0.</summary>
    public Shape(params ReadOnlySpan<long> dims)
    {
        if (dims.Length > MaxRank)
            throw new ArgumentException($"rank {dims.Length} exceeds the maximum of {MaxRank}", nameof(dims));
        foreach (var d in dims)
            if (d < 0) throw new ArgumentOutOfRangeException(nameof(dims), $"negative dimension {d} in [{string.Join(", ", dims.ToArray())}]");
        _dims = dims.ToArray();
    }

    /// <summary>A shape from <see cref="int"/> dimensions.</summary>
    public static Shape Of(params ReadOnlySpan<int> dims)
    {
        Span<long> l = stackalloc long[dims.Length];
        for (var i = 0; i < dims.Length; i++) l[i] = dims[i];
        return new Shape(l);
    }

    /// <summary>Number of dimensions (0 for a scalar).</summary>
    public int Rank => _dims?.Length ?? 0;

    /// <summary>The dimensions.</summary>
    public ReadOnlySpan<long> Dims => _dims;

    /// <summary>Dimension <paramref name="axis"/>; negative axes count from the end.</summary>
    public long this[int axis]
    {
        get
        {
            var rank = Rank;
            var a = axis < 0 ? axis + rank : axis;
            if ((uint)a >= (uint)rank) throw new ArgumentOutOfRangeException(nameof(axis), $"axis {axis} out of range for rank {rank}");
            return _dims![a];
        }
    }

    /// <summary>Product of the dimensions (1 for a scalar). Throws on overflow.</summary>
    public long ElementCount
    {
        get
        {
            long n = 1;
            foreach (var d in Dims) n = checked(n * d);
            return n;
        }
    }

    /// <summary>Product of the dimensions, or false when it overflows a <see cref="long"/>.</summary>
    public bool TryGetElementCount(out long count)
    {
        count = 1;
        foreach (var d in Dims)
        {
            if (d != 0 && count > long.MaxValue / d) { count = 0; return false; }
            count *= d;
        }
        return true;
    }

    /// <summary>Row-major (C-contiguous) strides in elements.</summary>
    public long[] ContiguousStrides()
    {
        var strides = new long[Rank];
        long s = 1;
        for (var i = Rank - 1; i >= 0; i--) { strides[i] = s; s *= _dims![i]; }
        return strides;
    }

    /// <inheritdoc/>
    public bool Equals(Shape other) => Dims.SequenceEqual(other.Dims);

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is Shape s && Equals(s);

    /// <inheritdoc/>
    public override int GetHashCode()
    {
        var h = new HashCode();
        foreach (var d in Dims) h.Add(d);
        return h.ToHashCode();
    }

    /// <summary>Shape equality.</summary>
    public static bool operator ==(Shape left, Shape right) => left.Equals(right);

    /// <summary>Shape inequality.</summary>
    public static bool operator !=(Shape left, Shape right) => !left.Equals(right);

    /// <summary>Formats as <c>[d0, d1, ...]</c>.</summary>
    public override string ToString()
    {
        var h = new DefaultInterpolatedStringHandler(2, 0);
        h.AppendLiteral("[");
        for (var i = 0; i < Rank; i++)
        {
            if (i > 0) h.AppendLiteral(", ");
            h.AppendFormatted(_dims![i]);
        }
        h.AppendLiteral("]");
        return h.ToStringAndClear();
    }
}
