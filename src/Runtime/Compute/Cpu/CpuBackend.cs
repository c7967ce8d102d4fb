using System.Buffers;
using System.Numerics.Tensors;
using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Model;

namespace DeepSeek.Runtime.Compute.Cpu;

/// <summary>
/// The reference CPU backend: fp32 activations in host arrays, weights read from the mapping and decoded row by
/// row inside each kernel, vectorised with <see cref="TensorPrimitives"/> and parallel over output rows or heads.
/// Kept simple and exact; the speed work (persistent pool, blocked GEMM, BF16 dot products) builds beside it.
/// </summary>
public sealed partial class CpuBackend : IComputeBackend
{
    private readonly ParallelOptions _parallel;

    /// <summary>Creates the backend; <paramref name="threads"/> ≤ 0 uses every core.</summary>
    public CpuBackend(int threads = 0)
    {
        Threads = threads > 0 ? threads : Environment.ProcessorCount;
        _parallel = new ParallelOptions { MaxDegreeOfParallelism = Threads };
    }

    /// <summary>Worker threads used by the kernels.</summary>
    public int Threads { get; }

    /// <inheritdoc/>
    public string Name => "cpu";

    /// <inheritdoc/>
    public ComputeTensor Allocate(int rows, int cols) => new CpuTensor(rows, cols);

    /// <inheritdoc/>
    public ComputeWeight Bind(WeightTensor weight) => new CpuWeight(weight);

    /// <inheritdoc/>
    public void Upload(ReadOnlySpan<float> source, ComputeTensor destination)
    {
        var d = CpuTensor.Of(destination);
        if (source.Length < d.Rows * d.Cols) throw new ArgumentException($"{source.Length} values for a {d} tensor", nameof(source));
        for (var r = 0; r < d.Rows; r++) source.Slice(r * d.Cols, d.Cols).CopyTo(d.Row(r));
    }

    /// <inheritdoc/>
    public void Download(ComputeTensor source, Span<float> destination)
    {
        var s = CpuTensor.Of(source);
        if (destination.Length < s.Rows * s.Cols) throw new ArgumentException($"{destination.Length} values for a {s} tensor", nameof(destination));
        for (var r = 0; r < s.Rows; r++) s.Row(r).CopyTo(destination.Slice(r * s.Cols, s.Cols));
    }

    /// <inheritdoc/>
    public void Embedding(ReadOnlySpan<int> ids, ComputeWeight table, ComputeTensor output)
    {
        var w = CpuWeight.Of(table);
        var o = CpuTensor.Of(output);
        for (var i = 0; i < ids.Length; i++)
        {
            if ((uint)ids[i] >= (uint)w.Rows) throw new ArgumentOutOfRangeException(nameof(ids), $"token id {ids[i]} outside the vocabulary [0, {w.Rows})");
            w.DecodeRow(ids[i], o.Row(i));
        }
    }

    /// <inheritdoc/>
    public void RmsNorm(ComputeTensor x, ComputeWeight weight, float eps, ComputeTensor output)
    {
        var xi = CpuTensor.Of(x);
        var o = CpuTensor.Of(output);
        var w = CpuWeight.Of(weight).Vector ?? throw new ArgumentException($"{weight} is not a vector", nameof(weight));
        for (var r = 0; r < xi.Rows; r++)
        {
            var row = xi.Row(r);
            var dst = o.Row(r);
            // Mean of squares accumulated in double: the fp32 reference's rounding is far below our tolerance either way.
            double ss = 0;
            foreach (var v in row) ss += (double)v * v;
            var inv = (float)(1.0 / Math.Sqrt(ss / row.Length + eps));
            TensorPrimitives.Multiply(row, inv, dst);
            TensorPrimitives.Multiply(dst, w, dst);
        }
    }

    /// <inheritdoc/>
    public void MatMul(ComputeTensor x, ComputeWeight weight, ComputeTensor output, ComputeWeight? bias = null)
    {
        var xi = CpuTensor.Of(x);
        var o = CpuTensor.Of(output);
        var w = CpuWeight.Of(weight);
        var b = bias is null ? null : CpuWeight.Of(bias).Vector;
        if (xi.Cols != w.Cols || o.Cols != w.Rows || o.Rows != xi.Rows)
            throw new ArgumentException($"matmul shapes: x {xi}, weight {w}, output {o}");

        // Each worker decodes a block of weight rows once and applies each to every token row.
        var chunk = Math.Max(1, w.Rows / (Threads * 4));
        Parallel.For(0, (w.Rows + chunk - 1) / chunk, _parallel, c =>
        {
            var scratch = ArrayPool<float>.Shared.Rent(w.Cols);
            try
            {
                var end = Math.Min(w.Rows, (c + 1) * chunk);
                for (var j = c * chunk; j < end; j++)
                {
                    ReadOnlySpan<float> row;
                    if (w.IsF32) row = w.F32Row(j);
                    else
                    {
                        w.DecodeRow(j, scratch);
                        row = scratch.AsSpan(0, w.Cols);
                    }
                    var add = b is null ? 0f : b[j];
                    for (var t = 0; t < xi.Rows; t++)
                        o.Data[o.Offset + t * o.Stride + j] = TensorPrimitives.Dot(xi.Row(t), row) + add;
                }
            }
            finally
            {
                ArrayPool<float>.Shared.Return(scratch);
            }
        });
    }

    /// <inheritdoc/>
    public void Add(ComputeTensor accumulator, ComputeTensor value)
    {
        var a = CpuTensor.Of(accumulator);
        var v = CpuTensor.Of(value);
        CheckSameShape(a, v);
        for (var r = 0; r < a.Rows; r++) TensorPrimitives.Add(a.Row(r), v.Row(r), a.Row(r));
    }

    /// <inheritdoc/>
    public void SwiGlu(ComputeTensor gate, ComputeTensor up, ComputeTensor output)
    {
        var g = CpuTensor.Of(gate);
        var u = CpuTensor.Of(up);
        var o = CpuTensor.Of(output);
        CheckSameShape(g, u);
        CheckSameShape(g, o);
        for (var r = 0; r < g.Rows; r++)
        {
            var gr = g.Row(r);
            var ur = u.Row(r);
            var orow = o.Row(r);
            for (var i = 0; i < gr.Length; i++)
            {
                var z = gr[i];
                orow[i] = z / (1f + MathF.Exp(-z)) * ur[i];
            }
        }
    }

    /// <inheritdoc/>
    public void Copy(ComputeTensor source, ComputeTensor destination)
    {
        var s = CpuTensor.Of(source);
        var d = CpuTensor.Of(destination);
        CheckSameShape(s, d);
        for (var r = 0; r < s.Rows; r++) s.Row(r).CopyTo(d.Row(r));
    }

    /// <inheritdoc/>
    public void Rope(ComputeTensor x, int heads, int headDim, int offset, ReadOnlySpan<int> positions, RopeTable table)
    {
        var t = CpuTensor.Of(x);
        if (t.Cols != heads * headDim || offset + table.Dim > headDim || positions.Length != t.Rows)
            throw new ArgumentException($"rope: {t} with {heads}×{headDim} heads, offset {offset}, dim {table.Dim}, {positions.Length} positions");
        var half = table.Dim / 2;
        for (var r = 0; r < t.Rows; r++)
        {
            if ((uint)positions[r] >= (uint)table.MaxPositions)
                throw new ArgumentOutOfRangeException(nameof(positions), $"position {positions[r]} outside the RoPE table [0, {table.MaxPositions})");
            var cos = table.Cos(positions[r]);
            var sin = table.Sin(positions[r]);
            var row = t.Row(r);
            for (var h = 0; h < heads; h++)
            {
                var v = row.Slice(h * headDim + offset, table.Dim);
                for (var i = 0; i < half; i++)
                {
                    // Interleaved: (v[2i], v[2i+1]); half: (v[i], v[i+d/2]). Rotation by angle θ_i·pos.
                    int a = table.Layout == RopeLayout.Interleaved ? 2 * i : i;
                    int b = table.Layout == RopeLayout.Interleaved ? 2 * i + 1 : i + half;
                    float x0 = v[a], x1 = v[b];
                    v[a] = x0 * cos[i] - x1 * sin[i];
                    v[b] = x0 * sin[i] + x1 * cos[i];
                }
            }
        }
    }

    /// <inheritdoc/>
    public void WriteCache(ComputeTensor source, ComputeTensor cache, ReadOnlySpan<TokenSlot> slots)
    {
        var s = CpuTensor.Of(source);
        var c = CpuTensor.Of(cache);
        if (s.Cols != c.Cols || slots.Length != s.Rows) throw new ArgumentException($"cache write: {s} into {c} with {slots.Length} slots");
        for (var i = 0; i < slots.Length; i++) s.Row(i).CopyTo(c.Row(slots[i].CacheRow));
    }

    /// <inheritdoc/>
    public void RouterLogits(ComputeTensor x, ComputeWeight gate, Span<float> output)
    {
        var xi = CpuTensor.Of(x);
        var tmp = new CpuTensor(xi.Rows, gate.Rows);
        MatMul(x, gate, tmp);
        tmp.Data.AsSpan(0, xi.Rows * gate.Rows).CopyTo(output);
    }

    /// <inheritdoc/>
    public void GatherRows(ComputeTensor source, ReadOnlySpan<int> rows, ComputeTensor destination)
    {
        var s = CpuTensor.Of(source);
        var d = CpuTensor.Of(destination);
        for (var i = 0; i < rows.Length; i++) s.Row(rows[i]).CopyTo(d.Row(i));
    }

    /// <inheritdoc/>
    public void ScatterAddRows(ComputeTensor source, ReadOnlySpan<int> rows, ReadOnlySpan<float> scales, ComputeTensor destination)
    {
        var s = CpuTensor.Of(source);
        var d = CpuTensor.Of(destination);
        for (var i = 0; i < rows.Length; i++)
        {
            var dst = d.Row(rows[i]);
            TensorPrimitives.MultiplyAdd(s.Row(i), scales[i], dst, dst);
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
    }

    private static void CheckSameShape(CpuTensor a, CpuTensor b)
    {
        if (a.Rows != b.Rows || a.Cols != b.Cols) throw new ArgumentException($"shape mismatch: {a} vs {b}");
    }
}
