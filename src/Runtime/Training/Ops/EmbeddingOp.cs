using System.Numerics;

namespace DeepSeek.Runtime.Training.Ops;

/// <summary>y[t] = table[ids[t]]; backward scatters: dtable[ids[t]] += dy[t].</summary>
public static class EmbeddingOp
{
    /// <summary>Looks up rows; ids must be inside the table.</summary>
    public static void Forward<T>(ReadOnlySpan<int> ids, ReadOnlySpan<T> table, Span<T> y, int dim) where T : IFloatingPointIeee754<T>
    {
        var rows = table.Length / dim;
        for (var t = 0; t < ids.Length; t++)
        {
            if ((uint)ids[t] >= (uint)rows) throw new ArgumentOutOfRangeException(nameof(ids), $"token id {ids[t]} outside [0, {rows})");
            table.Slice(ids[t] * dim, dim).CopyTo(y.Slice(t * dim, dim));
        }
    }

    /// <summary>Accumulates the table gradient.</summary>
    public static void Backward<T>(ReadOnlySpan<int> ids, ReadOnlySpan<T> dy, Span<T> dtable, int dim) where T : IFloatingPointIeee754<T>
    {
        for (var t = 0; t < ids.Length; t++)
        {
            var row = dtable.Slice(ids[t] * dim, dim);
            var g = dy.Slice(t * dim, dim);
            for (var i = 0; i < dim; i++) row[i] += g[i];
        }
    }
}
