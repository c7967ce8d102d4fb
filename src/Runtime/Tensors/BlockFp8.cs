using System.Diagnostics;
using System.Numerics;
using System.Runtime.InteropServices;

namespace DeepSeek.Runtime.Tensors;

/// <summary>
/// DeepSeek's block-scaled FP8 weights: a row-major <c>[rows, cols]</c> matrix of E4M3FN codes plus a row-major
/// <c>[ceil(rows/br), ceil(cols/bc)]</c> grid of F32 <c>scale_inv</c> (the safetensors companion
/// <c>&lt;name&gt;_scale_inv</c>, 128×128 blocks in the released checkpoints). The real value of element
/// <c>[r, c]</c> is <c>Float8E4M3Codec.ToSingle(codes[r·cols + c]) · scaleInv[(r/br)·gridCols + c/bc]</c>;
/// blocks on the bottom and right edges are partial.
/// </summary>
/// <remarks>
/// These are the reference paths (whole matrix, or one tile into a scratch buffer); production GEMMs decode codes
/// in registers and multiply by the block scale there.
/// </remarks>
public static class BlockFp8
{
    /// <summary>Block edge of the released checkpoints (<c>quantization_config.weight_block_size = [128, 128]</c>).</summary>
    public const int DefaultBlockSize = 128;

    /// <summary>Shape of the scale grid for a <paramref name="rows"/>×<paramref name="cols"/> matrix: (ceil(rows/br), ceil(cols/bc)).</summary>
    /// <exception cref="ArgumentOutOfRangeException">A dimension is negative or a block size is not positive.</exception>
    public static (int Rows, int Cols) ScaleGridShape(int rows, int cols, int blockRows = DefaultBlockSize, int blockCols = DefaultBlockSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        ArgumentOutOfRangeException.ThrowIfNegative(cols);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(blockRows);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(blockCols);
        return (CeilDiv(rows, blockRows), CeilDiv(cols, blockCols));
    }

    /// <summary>
    /// Dequantises block (<paramref name="tileRow"/>, <paramref name="tileCol"/>) into <paramref name="destination"/>,
    /// row-major with the tile's actual width: min(br, rows − tileRow·br) rows × min(bc, cols − tileCol·bc) columns.
    /// </summary>
    /// <exception cref="ArgumentException">A span is shorter than the shapes require, or the tile is out of the grid.</exception>
    public static void DequantizeTile(
        ReadOnlySpan<byte> codes, int rows, int cols, ReadOnlySpan<float> scaleInv, int tileRow, int tileCol,
        Span<float> destination, int blockRows = DefaultBlockSize, int blockCols = DefaultBlockSize)
    {
        var grid = Validate(codes.Length, rows, cols, scaleInv.Length, blockRows, blockCols);
        if ((uint)tileRow >= (uint)grid.Rows || (uint)tileCol >= (uint)grid.Cols)
            throw new ArgumentException($"tile ({tileRow}, {tileCol}) is outside the {grid.Rows}×{grid.Cols} block grid of a {rows}×{cols} matrix", tileRow < 0 || tileRow >= grid.Rows ? nameof(tileRow) : nameof(tileCol));
        var r0 = tileRow * blockRows;
        var c0 = tileCol * blockCols;
        var tileRows = Math.Min(blockRows, rows - r0);
        var tileCols = Math.Min(blockCols, cols - c0);
        var needed = (long)tileRows * tileCols;
        if (destination.Length < needed)
            throw new ArgumentException($"destination holds {destination.Length} floats; expected at least {needed} for the {tileRows}×{tileCols} tile ({tileRow}, {tileCol})", nameof(destination));

        var scale = scaleInv[tileRow * grid.Cols + tileCol];
        for (var r = 0; r < tileRows; r++)
        {
            var src = codes.Slice((r0 + r) * cols + c0, tileCols);
            var dst = destination.Slice(r * tileCols, tileCols);
            DecodeScaled(src, scale, dst);
        }
    }

    /// <summary>Dequantises the whole matrix into <paramref name="destination"/> (row-major, rows×cols).</summary>
    /// <exception cref="ArgumentException">A span is shorter than the shapes require, or a size is invalid.</exception>
    public static void Dequantize(
        ReadOnlySpan<byte> codes, int rows, int cols, ReadOnlySpan<float> scaleInv, Span<float> destination,
        int blockRows = DefaultBlockSize, int blockCols = DefaultBlockSize)
    {
        var grid = Validate(codes.Length, rows, cols, scaleInv.Length, blockRows, blockCols);
        var n = (long)rows * cols;
        if (destination.Length < n)
            throw new ArgumentException($"destination holds {destination.Length} floats; expected at least {n} (rows {rows} × cols {cols})", nameof(destination));

        for (var r = 0; r < rows; r++)
        {
            var scaleRow = scaleInv.Slice(r / blockRows * grid.Cols, grid.Cols);
            var codeRow = codes.Slice(r * cols, cols);
            var dstRow = destination.Slice(r * cols, cols);
            for (var b = 0; b < grid.Cols; b++)
            {
                var c0 = b * blockCols;
                var width = Math.Min(blockCols, cols - c0);
                DecodeScaled(codeRow.Slice(c0, width), scaleRow[b], dstRow.Slice(c0, width));
            }
        }
    }

    /// <summary>
    /// Quantises a row-major rows×cols matrix as DeepSeek's <c>weight_quant</c> does: per block,
    /// <c>scaleInv = amax / 448</c> (1 when the block is all zeros) and <c>code = E4M3(w / scaleInv)</c>,
    /// rounded to nearest even and saturating (see <see cref="Float8E4M3Codec"/>). A NaN in a block makes that
    /// block's scale NaN.
    /// </summary>
    /// <exception cref="ArgumentException">A span is shorter than the shapes require, or a size is invalid.</exception>
    public static void Quantize(
        ReadOnlySpan<float> weights, int rows, int cols, Span<byte> codes, Span<float> scaleInv,
        int blockRows = DefaultBlockSize, int blockCols = DefaultBlockSize)
    {
        var grid = Validate(codes.Length, rows, cols, scaleInv.Length, blockRows, blockCols, nameof(codes), nameof(scaleInv));
        var n = (long)rows * cols;
        if (weights.Length < n)
            throw new ArgumentException($"weights holds {weights.Length} floats; expected at least {n} (rows {rows} × cols {cols})", nameof(weights));

        for (var br = 0; br < grid.Rows; br++)
        {
            var r0 = br * blockRows;
            var r1 = Math.Min(rows, r0 + blockRows);
            for (var bc = 0; bc < grid.Cols; bc++)
            {
                var c0 = bc * blockCols;
                var width = Math.Min(blockCols, cols - c0);
                var amax = 0f;
                for (var r = r0; r < r1; r++)
                    foreach (var w in weights.Slice(r * cols + c0, width))
                        amax = MathF.Max(amax, MathF.Abs(w));
                var scale = amax == 0f ? 1f : amax / Float8E4M3Codec.MaxValue;
                scaleInv[br * grid.Cols + bc] = scale;
                for (var r = r0; r < r1; r++)
                {
                    var src = weights.Slice(r * cols + c0, width);
                    var dst = codes.Slice(r * cols + c0, width);
                    for (var c = 0; c < width; c++) dst[c] = Float8E4M3Codec.FromSingle(src[c] / scale);
                }
            }
        }
    }

    private static void DecodeScaled(ReadOnlySpan<byte> codes, float scale, Span<float> destination)
    {
        Debug.Assert(destination.Length == codes.Length);
        Float8E4M3Codec.ToSingle(codes, destination);
        var i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var vectors = MemoryMarshal.Cast<float, Vector<float>>(destination);
            for (var v = 0; v < vectors.Length; v++) vectors[v] *= scale;
            i = vectors.Length * Vector<float>.Count;
        }
        for (; i < destination.Length; i++) destination[i] *= scale;
    }

    private static (int Rows, int Cols) Validate(
        int codesLength, int rows, int cols, int scaleLength, int blockRows, int blockCols,
        string codesName = "codes", string scaleName = "scaleInv")
    {
        if (rows < 0 || cols < 0)
            throw new ArgumentException($"matrix shape {rows}×{cols} has a negative dimension", rows < 0 ? nameof(rows) : nameof(cols));
        if (blockRows <= 0 || blockCols <= 0)
            throw new ArgumentException($"block size {blockRows}×{blockCols} must be positive in both dimensions", blockRows <= 0 ? nameof(blockRows) : nameof(blockCols));
        var n = (long)rows * cols;
        if (n > Array.MaxLength)
            throw new ArgumentException($"matrix {rows}×{cols} has {n} elements, more than one span can hold; split it by rows", nameof(rows));
        if (codesLength < n)
            throw new ArgumentException($"{codesName} holds {codesLength} bytes; expected at least {n} (rows {rows} × cols {cols})", codesName);
        var grid = (Rows: CeilDiv(rows, blockRows), Cols: CeilDiv(cols, blockCols));
        var gridCount = (long)grid.Rows * grid.Cols;
        if (scaleLength < gridCount)
            throw new ArgumentException($"{scaleName} holds {scaleLength} floats; expected at least {gridCount} for the {grid.Rows}×{grid.Cols} grid of {blockRows}×{blockCols} blocks over {rows}×{cols}", scaleName);
        return grid;
    }

    private static int CeilDiv(int a, int b) => (int)(((long)a + b - 1) / b);
}
