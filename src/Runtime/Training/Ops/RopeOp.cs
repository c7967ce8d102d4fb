using System.Numerics;
using DeepSeek.Runtime.Model;

namespace DeepSeek.Runtime.Training.Ops;

/// <summary>
/// RoPE on dims [offset, offset + table.Dim) of each head, position t for row t. A rotation is orthogonal, so the
/// backward rotates the incoming gradient by the opposite angle.
/// </summary>
public static class RopeOp
{
    /// <summary>Rotates <paramref name="x"/> [rows, heads·headDim] in place.</summary>
    public static void Forward<T>(Span<T> x, int rows, int heads, int headDim, int offset, ReadOnlySpan<int> positions, RopeTable table)
        where T : IFloatingPointIeee754<T> => Rotate(x, rows, heads, headDim, offset, positions, table, inverse: false);

    /// <summary>Turns dy (w.r.t. the rotated values) into dx in place.</summary>
    public static void Backward<T>(Span<T> grad, int rows, int heads, int headDim, int offset, ReadOnlySpan<int> positions, RopeTable table)
        where T : IFloatingPointIeee754<T> => Rotate(grad, rows, heads, headDim, offset, positions, table, inverse: true);

    private static void Rotate<T>(Span<T> x, int rows, int heads, int headDim, int offset, ReadOnlySpan<int> positions, RopeTable table, bool inverse)
        where T : IFloatingPointIeee754<T>
    {
        var half = table.Dim / 2;
        for (var r = 0; r < rows; r++)
        {
            var cos = table.Cos(positions[r]);
            var sin = table.Sin(positions[r]);
            for (var h = 0; h < heads; h++)
            {
                var v = x.Slice(r * heads * headDim + h * headDim + offset, table.Dim);
                for (var i = 0; i < half; i++)
                {
                    int a = table.Layout == RopeLayout.Interleaved ? 2 * i : i;
                    int b = table.Layout == RopeLayout.Interleaved ? 2 * i + 1 : i + half;
                    var c = T.CreateChecked(cos[i]);
                    var s = T.CreateChecked(sin[i]);
                    if (inverse) s = -s;
                    T x0 = v[a], x1 = v[b];
                    v[a] = x0 * c - x1 * s;
                    v[b] = x0 * s + x1 * c;
                }
            }
        }
    }
}
