using System.Diagnostics;
using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Tensors;

namespace DeepSeek.Runtime.Compute.Cpu;

/// <summary>
/// A weight read straight from the memory-mapped checkpoint. Rows are decoded to fp32 on demand into the caller's
/// scratch (BF16/F16 widened, FP8 codes × their 128×128 block scale): never a dequantised copy of the matrix.
/// Vectors (norm scales, biases, router bias) are small and decoded once at bind time.
/// </summary>
internal sealed unsafe class CpuWeight : ComputeWeight
{
    private readonly DType _dtype;
    private readonly byte* _data;
    private readonly object _owner;
    private readonly float[]? _scales;
    private readonly int _gridCols;
    private readonly int _blockRows;
    private readonly int _blockCols;

    public CpuWeight(WeightTensor weight)
        : base(weight.Name, weight.Tensor.Shape.Rank == 1 ? 1 : checked((int)weight.Tensor.Shape[0]), checked((int)weight.Tensor.Shape[-1]))
    {
        var t = weight.Tensor;
        if (t.Shape.Rank is not (1 or 2)) throw new ArgumentException($"weight '{t.Name}' has rank {t.Shape.Rank}; expected a vector or a matrix");
        _dtype = t.DType;
        _owner = t.File;
        _data = t.File.DataPointer(t.Name);
        if (_dtype == DType.F8_E4M3)
        {
            var scale = weight.ScaleInv ?? throw new ArgumentException($"FP8 weight '{t.Name}' has no scale_inv");
            _scales = scale.DType == DType.F32
                ? scale.View<float>().Span.ToArray()
                : scale.View<ushort>().Span.ToArray().Select(BFloat16Codec.ToSingle).ToArray();
            _gridCols = checked((int)scale.Shape[1]);
            _blockRows = weight.BlockRows;
            _blockCols = weight.BlockCols;
            if (_blockCols % 16 == 0 && _scales.All(v => MathF.Abs(v) < 128f))
                _scales2p120 = [.. _scales.Select(v => MathF.ScaleB(v, 120))];   // exact: a power-of-two scaling of a value below 2^7
        }
        if (Rows == 1)
        {
            Vector = new float[Cols];
            DecodeRow(0, Vector);
        }
    }

    /// <summary>The decoded values of a vector weight (null for matrices).</summary>
    public float[]? Vector { get; }

    /// <summary>True when rows can be read in place as fp32 (no decode needed).</summary>
    public bool IsF32 => _dtype == DType.F32;

    /// <summary>Largest matrix (in values) given a transposed copy: small enough to stay cache-resident, where the copy pays.</summary>
    internal const int MaxTransposedValues = 1 << 18;

    private float[]? _transposed;

    /// <summary>
    /// The matrix as [Cols, Rows] (input-major), made once on first use, for F32 matrices of at most
    /// <see cref="MaxTransposedValues"/> values (null otherwise): the layout of <see cref="RowDot.Columns"/>, where each
    /// output column is a vector lane and no horizontal sums are needed.
    /// </summary>
    public float[]? Transposed
    {
        get
        {
            if (_transposed is not null) return _transposed;
            if (!IsF32 || Rows < 8 || (long)Rows * Cols > MaxTransposedValues) return null;
            var t = new float[Rows * Cols];
            for (var r = 0; r < Rows; r++)
            {
                var row = F32Row(r);
                for (var c = 0; c < Cols; c++) t[c * Rows + r] = row[c];
            }
            return _transposed = t;   // a racing thread builds an identical copy
        }
    }

    /// <summary>Row <paramref name="r"/> in place, for F32 weights.</summary>
    public ReadOnlySpan<float> F32Row(int r) => new((float*)_data + (long)r * Cols, Cols);

    /// <summary>Rows [<paramref name="r"/>, r + <paramref name="count"/>) in place, back to back, for F32 weights.</summary>
    public ReadOnlySpan<float> F32Rows(int r, int count)
    {
        Debug.Assert(IsF32 && r >= 0 && count >= 0 && r + count <= Rows);
        return new((float*)_data + (long)r * Cols, checked(count * Cols));
    }

    /// <summary>True when rows are bfloat16 and can be read in place (<see cref="Bf16Row"/>).</summary>
    public bool IsBf16 => _dtype == DType.BF16;

    /// <summary>Rows [<paramref name="r"/>, r + <paramref name="count"/>) of a BF16 matrix in place, back to back.</summary>
    public ReadOnlySpan<ushort> Bf16Rows(int r, int count)
    {
        Debug.Assert(IsBf16 && r >= 0 && count >= 0 && r + count <= Rows);
        return new((ushort*)_data + (long)r * Cols, checked(count * Cols));
    }

    /// <summary>Row <paramref name="r"/> of a BF16 matrix, in place (the bits; see <see cref="RowDot.DotBf16"/>).</summary>
    public ReadOnlySpan<ushort> Bf16Row(int r)
    {
        Debug.Assert(IsBf16 && (uint)r < (uint)Rows);
        return new((ushort*)_data + (long)r * Cols, Cols);
    }

    /// <summary>
    /// True for FP8 rows <see cref="RowDot.DotFp8"/> can read in place: scale blocks a multiple of 16 columns wide and every
    /// scale below 2^7 (so scale × 2^120 is finite; real checkpoints' scales are amax/448, far below).
    /// </summary>
    public bool IsFp8InPlace => _scales2p120 is not null;

    private readonly float[]? _scales2p120;

    /// <summary>Row <paramref name="r"/> of an FP8 matrix in place: its codes (see <see cref="Fp8RowScales"/>, <see cref="BlockCols"/>).</summary>
    public ReadOnlySpan<byte> Fp8Row(int r)
    {
        Debug.Assert(_dtype == DType.F8_E4M3 && (uint)r < (uint)Rows);
        return new ReadOnlySpan<byte>(_data + (long)r * Cols, Cols);
    }

    /// <summary>The scales × 2^120 of row <paramref name="r"/>'s column blocks (<see cref="IsFp8InPlace"/> weights only).</summary>
    public ReadOnlySpan<float> Fp8RowScales(int r) => _scales2p120.AsSpan((r / _blockRows) * _gridCols, _gridCols);

    /// <summary>Columns per scale block (FP8 only).</summary>
    public int BlockCols => _blockCols;

    /// <summary>Rows per scale block (FP8 only).</summary>
    public int BlockRows => _blockRows;

    /// <summary>Scale blocks per row (FP8 only).</summary>
    public int GridCols => _gridCols;

    /// <summary>Every block's scale × 2^120, row-major over the (Rows / BlockRows) × GridCols grid (<see cref="IsFp8InPlace"/> weights only).</summary>
    public float[] Fp8Scales2p120 => _scales2p120 ?? throw new InvalidOperationException($"'{Name}' is not an in-place FP8 weight");

    /// <summary>Decodes row <paramref name="r"/> into <paramref name="destination"/> (Cols floats).</summary>
    public void DecodeRow(int r, Span<float> destination)
    {
        var cols = Cols;
        var start = (long)r * cols;
        switch (_dtype)
        {
            case DType.F32:
                F32Row(r).CopyTo(destination);
                break;
            case DType.BF16:
                BFloat16Codec.ToSingle(new ReadOnlySpan<ushort>((ushort*)_data + start, cols), destination);
                break;
            case DType.F16:
                System.Numerics.Tensors.TensorPrimitives.ConvertToSingle(new ReadOnlySpan<Half>((Half*)_data + start, cols), destination[..cols]);
                break;
            case DType.F8_E4M3:
                Float8E4M3Codec.ToSingle(new ReadOnlySpan<byte>(_data + start, cols), destination);
                var scaleRow = _scales.AsSpan((r / _blockRows) * _gridCols, _gridCols);
                for (var b = 0; b < _gridCols; b++)
                {
                    var c0 = b * _blockCols;
                    System.Numerics.Tensors.TensorPrimitives.Multiply(destination.Slice(c0, Math.Min(_blockCols, cols - c0)), scaleRow[b], destination.Slice(c0, Math.Min(_blockCols, cols - c0)));
                }
                break;
            default:
                throw new NotSupportedException($"weight '{Name}' has dtype {_dtype}, which the CPU backend cannot compute with");
        }
        GC.KeepAlive(_owner);
    }

    public static CpuWeight Of(ComputeWeight w) =>
        w as CpuWeight ?? throw new ArgumentException($"{w} belongs to another backend than cpu", nameof(w));
}
