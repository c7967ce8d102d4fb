using DeepSeek.Interop.Cuda;
using DeepSeek.Runtime.Compute;

namespace DeepSeek.Interop.Gpu;

/// <summary>A device fp32 matrix: element (r, c) at <see cref="Storage"/>[Offset + r·Stride + c]; slices share storage.</summary>
internal sealed class CudaTensor : ComputeTensor
{
    public CudaTensor(DeviceBuffer<float> storage, long offset, int stride, int rows, int cols) : base(rows, cols)
    {
        Storage = storage;
        Offset = offset;
        Stride = stride;
    }

    public DeviceBuffer<float> Storage { get; }

    public long Offset { get; }

    public int Stride { get; }

    /// <summary>Device address of element (0, 0).</summary>
    public ulong Pointer => Storage.PointerAt(Offset);

    public bool IsContiguous => Stride == Cols || Rows <= 1;

    public override ComputeTensor Columns(int offset, int count)
    {
        CheckRange(offset, count, Cols, "columns");
        return new CudaTensor(Storage, Offset + offset, Stride, Rows, count);
    }

    public override ComputeTensor RowRange(int offset, int count)
    {
        CheckRange(offset, count, Rows, "rows");
        return new CudaTensor(Storage, Offset + (long)offset * Stride, Stride, count, Cols);
    }

    public static CudaTensor Of(ComputeTensor t) =>
        t as CudaTensor ?? throw new ArgumentException($"{t} belongs to another backend than cuda", nameof(t));
}
