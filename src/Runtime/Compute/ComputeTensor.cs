namespace DeepSeek.Runtime.Compute;

/// <summary>
/// A 2-D fp32 activation matrix [Rows, Cols] owned by a backend (host memory on CPU, device memory on GPU).
/// Column slices are views of the same storage, so a fused projection's output can be split without copies.
/// </summary>
public abstract class ComputeTensor
{
    /// <summary>Creates the shape part of a tensor.</summary>
    protected ComputeTensor(int rows, int cols)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        ArgumentOutOfRangeException.ThrowIfNegative(cols);
        Rows = rows;
        Cols = cols;
    }

    /// <summary>Number of rows (tokens, usually).</summary>
    public int Rows { get; }

    /// <summary>Number of columns (features).</summary>
    public int Cols { get; }

    /// <summary>Columns [<paramref name="offset"/>, <paramref name="offset"/> + <paramref name="count"/>) of every row, sharing storage.</summary>
    public abstract ComputeTensor Columns(int offset, int count);

    /// <summary>Rows [<paramref name="offset"/>, <paramref name="offset"/> + <paramref name="count"/>), sharing storage.</summary>
    public abstract ComputeTensor RowRange(int offset, int count);

    /// <summary>Guard for slice arguments.</summary>
    protected static void CheckRange(int offset, int count, int length, string axis)
    {
        if (offset < 0 || count < 0 || offset + count > length)
            throw new ArgumentOutOfRangeException(nameof(offset), $"{axis} [{offset}, {offset + count}) outside [0, {length})");
    }

    /// <inheritdoc/>
    public override string ToString() => $"{GetType().Name}[{Rows}, {Cols}]";
}

/// <summary>A checkpoint weight bound to a backend: [Rows = out, Cols = in] for matrices, [1, Cols] for vectors.</summary>
public abstract class ComputeWeight
{
    /// <summary>Creates the shape part of a weight.</summary>
    protected ComputeWeight(string name, int rows, int cols)
    {
        Name = name;
        Rows = rows;
        Cols = cols;
    }

    /// <summary>Tensor name in the checkpoint.</summary>
    public string Name { get; }

    /// <summary>Output features (1 for vectors).</summary>
    public int Rows { get; }

    /// <summary>Input features (or the vector length).</summary>
    public int Cols { get; }

    /// <inheritdoc/>
    public override string ToString() => $"{Name}[{Rows}, {Cols}]";
}
