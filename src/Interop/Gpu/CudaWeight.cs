using DeepSeek.Interop.Cuda;
using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Compute;
using DeepSeek.Runtime.Tensors;

namespace DeepSeek.Interop.Gpu;

/// <summary>
/// A checkpoint weight uploaded once, in its stored dtype (FP8 stays FP8 with its fp32 scale grid; BF16 stays BF16):
/// kernels decode it in their loaders. Vectors (norm scales, biases) are decoded to fp32 at upload.
/// </summary>
internal sealed class CudaWeight : ComputeWeight, IDisposable
{
    private CudaWeight(string name, int rows, int cols, DType dtype, DeviceBuffer<byte> data, DeviceBuffer<float>? scale, int scaleCols, int blockRows, int blockCols)
        : base(name, rows, cols)
    {
        DType = dtype;
        Data = data;
        Scale = scale;
        ScaleCols = scaleCols;
        BlockRows = blockRows;
        BlockCols = blockCols;
    }

    public DType DType { get; }

    public DeviceBuffer<byte> Data { get; }

    public DeviceBuffer<float>? Scale { get; }

    public int ScaleCols { get; }

    public int BlockRows { get; }

    public int BlockCols { get; }

    /// <summary>Kernel specialisation suffix for the stored dtype.</summary>
    public string Suffix => DType switch
    {
        DType.F32 => "f32",
        DType.BF16 => "bf16",
        DType.F16 => "f16",
        DType.F8_E4M3 => "fp8",
        _ => throw new NotSupportedException($"weight '{Name}' has dtype {DType}, which the CUDA backend cannot compute with"),
    };

    /// <summary>True for block-FP8 weights with DeepSeek's 128×128 blocks (the FP8 GEMM's layout).</summary>
    public bool IsFp8Block128 => DType == DType.F8_E4M3 && BlockRows == 128 && BlockCols == 128;

    /// <summary>Device fp32 values of a vector weight (rows = 1).</summary>
    public ulong VectorPointer => Rows == 1 && DType == DType.F32 ? Data.Pointer : throw new ArgumentException($"{this} is not a vector");

    public static CudaWeight Upload(CudaContext context, WeightTensor weight)
    {
        var t = weight.Tensor;
        if (t.Shape.Rank is not (1 or 2)) throw new ArgumentException($"weight '{t.Name}' has rank {t.Shape.Rank}; expected a vector or a matrix");
        var rows = t.Shape.Rank == 1 ? 1 : checked((int)t.Shape[0]);
        var cols = checked((int)t.Shape[-1]);
        if (rows == 1)
        {
            var values = weight.ToFloatArray();
            var vector = context.Allocate<byte>(values.Length * sizeof(float));
            vector.CopyFrom(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()));
            return new CudaWeight(t.Name, 1, cols, DType.F32, vector, null, 0, 0, 0);
        }
        if (t.DType is not (DType.F32 or DType.BF16 or DType.F16 or DType.F8_E4M3))
            throw new NotSupportedException($"weight '{t.Name}' has dtype {t.DType}, which the CUDA backend cannot compute with");
        var bytes = t.Bytes;
        var data = context.Allocate<byte>(bytes.Length);
        DeviceBuffer<float>? scale = null;
        try
        {
            data.CopyFrom(bytes);   // straight from the memory-mapped checkpoint
            var scaleCols = 0;
            if (t.DType == DType.F8_E4M3)
            {
                var scaleTensor = weight.ScaleInv ?? throw new ArgumentException($"FP8 weight '{t.Name}' has no scale_inv");
                var scales = new WeightTensor(scaleTensor, null).ToFloatArray();
                scaleCols = checked((int)scaleTensor.Shape[1]);
                scale = context.Allocate<float>(scales.Length);
                scale.CopyFrom(scales);
            }
            return new CudaWeight(t.Name, rows, cols, t.DType, data, scale, scaleCols, weight.BlockRows, weight.BlockCols);
        }
        catch
        {
            data.Dispose();
            scale?.Dispose();
            throw;
        }
    }

    /// <summary>Appends the six weight parameters every weight-typed kernel takes: data, scale, cols, scale_cols, block_rows, block_cols.</summary>
    public KernelArguments AddTo(KernelArguments args) =>
        args.AddPointer(Data.Pointer).AddPointer(Scale?.Pointer ?? 0).Add(Cols).Add(ScaleCols).Add(Math.Max(1, BlockRows)).Add(Math.Max(1, BlockCols));

    public void Dispose()
    {
        Data.Dispose();
        Scale?.Dispose();
    }

    public static CudaWeight Of(ComputeWeight w) =>
        w as CudaWeight ?? throw new ArgumentException($"{w} belongs to another backend than cuda", nameof(w));
}
