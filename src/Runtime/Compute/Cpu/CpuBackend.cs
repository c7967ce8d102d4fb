using System.Buffers;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Model;

namespace DeepSeek.Runtime.Compute.Cpu;

/// <summary>
/// The reference CPU backend: fp32 activations in host arrays, weights read from the mapping and decoded row by
/// row inside each kernel, vectorised with <see cref="TensorPrimitives"/>. Ops big enough to pay for a hand-off run
/// on a persistent <see cref="CpuWorkerPool"/> split statically by output rows or heads; smaller ones (every op of a
/// tiny model's decode step) run inline on the caller. Either way each output value is computed by the same code in
/// the same order, so a token's result never depends on the thread count or on which rows share its forward pass.
/// No kernel allocates managed memory once warm (scratch comes from <see cref="ArrayPool{T}.Shared"/>).
/// </summary>
public sealed partial class CpuBackend : IComputeBackend
{
    private CpuWorkerPool? _pool;

    /// <summary>Creates the backend; <paramref name="threads"/> ≤ 0 uses every core.</summary>
    public CpuBackend(int threads = 0)
    {
        Threads = threads > 0 ? threads : Environment.ProcessorCount;
    }

    /// <summary>Worker threads used by the kernels.</summary>
    public int Threads { get; }

    /// <summary>
    /// Whether matmuls on BF16 and block-scaled FP8 weights use the native AVX512-BF16 GEMMs (<c>libdeepseek_cpu.so</c>,
    /// where it was built and the CPU has avx512bf16 — and avx512vbmi for FP8; <c>DEEPSEEK_NATIVE_CPU=0</c> disables
    /// them process-wide) — every row count, from one-token decode to prefill, so a token's result never depends on the
    /// rows it shares a matmul with. They round the activations to bf16 (relative error ≤ 2^-9 each, as llama.cpp
    /// does; FP8 codes are exact in bf16), so set false where fp32 activations are needed bit for bit.
    /// </summary>
    public bool NativeKernels { get; set; } = true;

    /// <summary>True when <see cref="NativeKernels"/> is set and the native library is usable on this machine.</summary>
    public bool NativeKernelsActive => NativeKernels && NativeCpuKernels.IsAvailable;

    /// <summary>True when <see cref="NativeKernelsActive"/> and the CPU also runs the native FP8 GEMM (avx512vbmi).</summary>
    public bool NativeFp8Active => NativeKernelsActive && NativeCpuKernels.Fp8Available;

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
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void RmsNorm(ComputeTensor x, ComputeWeight weight, float eps, ComputeTensor output)
    {
        var xi = CpuTensor.Of(x);
        var o = CpuTensor.Of(output);
        var w = CpuWeight.Of(weight).Vector ?? throw new ArgumentException($"{weight} is not a vector", nameof(weight));
        for (var r = 0; r < xi.Rows; r++)
        {
            var row = xi.Row(r);
            // Mean of squares accumulated in double: the fp32 reference's rounding is far below our tolerance either way.
            var inv = (float)(1.0 / Math.Sqrt(RowOps.SumOfSquares(row) / row.Length + eps));
            RowOps.ScaleTimes(row, inv, w, o.Row(r));
        }
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Add(ComputeTensor accumulator, ComputeTensor value)
    {
        var a = CpuTensor.Of(accumulator);
        var v = CpuTensor.Of(value);
        CheckSameShape(a, v);
        for (var r = 0; r < a.Rows; r++) TensorPrimitives.Add(a.Row(r), v.Row(r), a.Row(r));
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void SwiGlu(ComputeTensor gate, ComputeTensor up, ComputeTensor output)
    {
        var g = CpuTensor.Of(gate);
        var u = CpuTensor.Of(up);
        var o = CpuTensor.Of(output);
        CheckSameShape(g, u);
        CheckSameShape(g, o);
        for (var r = 0; r < g.Rows; r++) RowOps.SwiGlu(g.Row(r), u.Row(r), o.Row(r));
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
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
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
    public void GatherRows(ComputeTensor source, ReadOnlySpan<int> rows, ComputeTensor destination)
    {
        var s = CpuTensor.Of(source);
        var d = CpuTensor.Of(destination);
        for (var i = 0; i < rows.Length; i++) s.Row(rows[i]).CopyTo(d.Row(i));
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
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
        // The worker pool is shared process-wide (see CpuWorkerPool.Shared) and outlives any one backend.
    }

    private static void CheckSameShape(CpuTensor a, CpuTensor b)
    {
        if (a.Rows != b.Rows || a.Cols != b.Cols) throw new ArgumentException($"shape mismatch: {a} vs {b}");
    }
}
