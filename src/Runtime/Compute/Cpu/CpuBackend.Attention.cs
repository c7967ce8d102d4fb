using System.Buffers;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;

namespace DeepSeek.Runtime.Compute.Cpu;

public sealed partial class CpuBackend
{
    [ThreadStatic] private static AttentionJob? t_attention;
    [ThreadStatic] private static MlaJob? t_mla;

    /// <inheritdoc/>
    public void Attention(ComputeTensor q, ComputeTensor keys, ComputeTensor values, ReadOnlySpan<TokenSlot> slots, AttentionShape shape, ComputeTensor output)
    {
        var qt = CpuTensor.Of(q);
        var k = CpuTensor.Of(keys);
        var v = CpuTensor.Of(values);
        var o = CpuTensor.Of(output);
        var (heads, kvHeads, qkDim, vDim, _) = shape;
        if (qt.Cols != heads * qkDim || k.Cols != kvHeads * qkDim || v.Cols != kvHeads * vDim || o.Cols != heads * vDim || heads % kvHeads != 0 || slots.Length != qt.Rows)
            throw new ArgumentException($"attention shapes: q {qt}, k {k}, v {v}, out {o}, {shape}");
        if (qt.Rows == 0) return;

        var job = t_attention ??= new AttentionJob();
        job.Set(qt, k, v, o, slots, shape);
        try
        {
            Dispatch(job, PartsFor(job.Work, qt.Rows * kvHeads));
        }
        finally
        {
            job.Clear();
        }
    }

    /// <inheritdoc/>
    public void MlaAbsorbedAttention(ComputeTensor q, ComputeTensor latentCache, ComputeWeight wkvB, ReadOnlySpan<TokenSlot> slots, MlaShape shape, ComputeTensor output)
    {
        var qt = CpuTensor.Of(q);
        var cache = CpuTensor.Of(latentCache);
        var w = CpuWeight.Of(wkvB);
        var o = CpuTensor.Of(output);
        var (heads, nope, rope, vDim, latent, _) = shape;
        if (qt.Cols != heads * (nope + rope) || cache.Cols != latent + rope || w.Rows != heads * (nope + vDim) || w.Cols != latent || o.Cols != heads * vDim || slots.Length != qt.Rows)
            throw new ArgumentException($"absorbed MLA shapes: q {qt}, cache {cache}, kv_b {w}, out {o}, {shape}");
        if (qt.Rows == 0) return;

        var job = t_mla ??= new MlaJob();
        job.Set(qt, cache, w, o, slots, shape);
        try
        {
            Dispatch(job, PartsFor(job.Work, heads));
        }
        finally
        {
            job.Clear();
        }
    }

    /// <summary>Slots copied into a per-job array (a job outlives the span it was given while workers read it).</summary>
    private static TokenSlot[] Keep(ref TokenSlot[] buffer, ReadOnlySpan<TokenSlot> slots, out int maxPosition)
    {
        if (buffer.Length < slots.Length) buffer = new TokenSlot[Math.Max(slots.Length, 2 * buffer.Length)];
        slots.CopyTo(buffer);
        maxPosition = 0;
        foreach (var s in slots) maxPosition = Math.Max(maxPosition, s.Position);
        return buffer;
    }

    /// <summary>
    /// Softmax attention, one (token, KV head) pair per work item: the query heads that share the KV head (a GQA group)
    /// are scored two at a time against each key row (<see cref="RowDot.Dot4x2"/>) and sum the value rows together
    /// (<see cref="RowDot.WeightedSum2"/>, partial sums in registers), the cache walked in blocks of
    /// <see cref="MlaJob.PositionBlock"/> positions so each block is read once for the whole group. Every value is a fixed-order
    /// sum (scores are <see cref="RowDot.Dot"/>, a head pair fixed by head index), so a row's result does not depend on
    /// the rows beside it.
    /// </summary>
    private sealed class AttentionJob : ICpuJob
    {
        private CpuTensor _q = null!, _k = null!, _v = null!, _o = null!;
        private TokenSlot[] _slots = [];
        private int _tokens, _maxPosition;
        private AttentionShape _shape;

        public long Work => (long)_tokens * _shape.Heads * (_maxPosition + 1) * (_shape.QkDim + _shape.VDim);

        public void Set(CpuTensor q, CpuTensor k, CpuTensor v, CpuTensor o, ReadOnlySpan<TokenSlot> slots, AttentionShape shape)
        {
            (_q, _k, _v, _o, _shape, _tokens) = (q, k, v, o, shape, slots.Length);
            Keep(ref _slots, slots, out _maxPosition);
        }

        public void Clear() => (_q, _k, _v, _o) = (null!, null!, null!, null!);

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Execute(int part, int parts)
        {
            var (heads, kvHeads, _, _, _) = _shape;
            var group = heads / kvHeads;
            var (start, end) = Split(_tokens * kvHeads, part, parts);
            var scores = ArrayPool<float>.Shared.Rent(group * (_maxPosition + 1));
            try
            {
                for (var work = start; work < end; work++) Group(work / kvHeads, work % kvHeads, group, scores);
            }
            finally
            {
                ArrayPool<float>.Shared.Return(scores);
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void Group(int t, int kh, int group, float[] scores)
        {
            var (_, _, qkDim, vDim, scale) = _shape;
            var slot = _slots[t];
            var n = slot.Position + 1;
            var stride = _maxPosition + 1;
            Span<float> r = stackalloc float[8];
            for (var j0 = 0; j0 < n; j0 += MlaJob.PositionBlock)
            {
                var j1 = Math.Min(j0 + MlaJob.PositionBlock, n);
                for (var g = 0; g < group; g += 2)
                {
                    var two = g + 1 < group;
                    var h = kh * group + g;
                    var qa = _q.Row(t).Slice(h * qkDim, qkDim);
                    var qb = two ? _q.Row(t).Slice((h + 1) * qkDim, qkDim) : qa;
                    var pa = scores.AsSpan(g * stride, n);
                    var pb = scores.AsSpan((two ? g + 1 : g) * stride, n);
                    var j = j0;
                    for (; j + 4 <= j1; j += 4)
                    {
                        var c = slot.FirstRow + j;
                        ReadOnlySpan<float> k0 = Key(c, kh), k1 = Key(c + 1, kh), k2 = Key(c + 2, kh), k3 = Key(c + 3, kh);
                        if (two) RowDot.Dot4x2(qa, qb, k0, k1, k2, k3, r);
                        else RowDot.Dot4(qa, k0, k1, k2, k3, r);
                        for (var i = 0; i < 4; i++)
                        {
                            pa[j + i] = r[i] * scale;
                            if (two) pb[j + i] = r[4 + i] * scale;
                        }
                    }
                    for (; j < j1; j++)
                    {
                        var key = Key(slot.FirstRow + j, kh);
                        pa[j] = RowDot.Dot(qa, key) * scale;
                        if (two) pb[j] = RowDot.Dot(qb, key) * scale;
                    }
                }
            }
            for (var g = 0; g < group; g++)
            {
                var p = scores.AsSpan(g * stride, n);
                TensorPrimitives.SoftMax(p, p);
            }
            for (var j0 = 0; j0 < n; j0 += MlaJob.PositionBlock)
            {
                var j1 = Math.Min(j0 + MlaJob.PositionBlock, n);
                var rows = _v.Data.AsSpan(_v.Offset + (slot.FirstRow + j0) * _v.Stride + kh * vDim, (j1 - j0 - 1) * _v.Stride + vDim);
                for (var g = 0; g < group; g += 2)
                {
                    var h = kh * group + g;
                    var two = g + 1 < group;
                    RowDot.WeightedSum2(scores.AsSpan(g * stride + j0, j1 - j0), two ? scores.AsSpan((g + 1) * stride + j0, j1 - j0) : [],
                        rows, _v.Stride, _o.Row(t).Slice(h * vDim, vDim), two ? _o.Row(t).Slice((h + 1) * vDim, vDim) : [], accumulate: j0 > 0);
                }
            }
        }

        private ReadOnlySpan<float> Key(int row, int kh) => _k.Row(row).Slice(kh * _shape.QkDim, _shape.QkDim);
    }
}
