namespace DeepSeek.Runtime.Compute.Cpu;

/// <summary>A host fp32 matrix: <see cref="Data"/>[Offset + r·Stride + c].</summary>
internal sealed class CpuTensor : ComputeTensor
{
    public CpuTensor(int rows, int cols) : this(new float[checked(rows * cols)], 0, cols, rows, cols)
    {
    }

    private CpuTensor(float[] data, int offset, int stride, int rows, int cols) : base(rows, cols)
    {
        Data = data;
        Offset = offset;
        Stride = stride;
    }

    public float[] Data { get; }

    public int Offset { get; }

    public int Stride { get; }

    /// <summary>Row <paramref name="r"/> (Cols elements).</summary>
    public Span<float> Row(int r) => Data.AsSpan(Offset + r * Stride, Cols);

    public override ComputeTensor Columns(int offset, int count)
    {
        CheckRange(offset, count, Cols, "columns");
        return new CpuTensor(Data, Offset + offset, Stride, Rows, count);
    }

    public override ComputeTensor RowRange(int offset, int count)
    {
        CheckRange(offset, count, Rows, "rows");
        return new CpuTensor(Data, Offset + offset * Stride, Stride, count, Cols);
    }

    public static CpuTensor Of(ComputeTensor t) =>
        t as CpuTensor ?? throw new ArgumentException($"{t} belongs to another backend than cpu", nameof(t));
}
