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
            Dispatch(job, PartsFor(job.Work, qt.Rows * heads));
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

    /// <summary>Softmax attention, one (token, head) pair per work item.</summary>
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
            var (heads, kvHeads, qkDim, vDim, scale) = _shape;
            var group = heads / kvHeads;
            var (start, end) = Split(_tokens * heads, part, parts);
            var scores = ArrayPool<float>.Shared.Rent(_maxPosition + 1);
            try
            {
                for (var work = start; work < end; work++)
                {
                    int t = work / heads, h = work % heads, kh = h / group;
                    var slot = _slots[t];
                    var n = slot.Position + 1;
                    var qh = _q.Row(t).Slice(h * qkDim, qkDim);
                    var p = scores.AsSpan(0, n);
                    for (var j = 0; j < n; j++)
                        p[j] = TensorPrimitives.Dot(qh, _k.Row(slot.FirstRow + j).Slice(kh * qkDim, qkDim)) * scale;
                    TensorPrimitives.SoftMax(p, p);
                    var oh = _o.Row(t).Slice(h * vDim, vDim);
                    oh.Clear();
                    for (var j = 0; j < n; j++)
                        TensorPrimitives.MultiplyAdd(_v.Row(slot.FirstRow + j).Slice(kh * vDim, vDim), p[j], oh, oh);
                }
            }
            finally
            {
                ArrayPool<float>.Shared.Return(scores);
            }
        }
    }
}
