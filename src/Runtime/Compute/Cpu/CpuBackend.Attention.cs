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

    /// <summary>
    /// Absorbed MLA, one head per work item: that head's W_UK [nope, latent] and W_UV [v, latent] rows are read (decoded
    /// when not F32) once and used for every token of the call.
    /// </summary>
    private sealed class MlaJob : ICpuJob
    {
        private CpuTensor _q = null!, _cache = null!, _o = null!;
        private CpuWeight _w = null!;
        private TokenSlot[] _slots = [];
        private int _tokens, _maxPosition;
        private MlaShape _shape;

        public long Work
        {
            get
            {
                var (heads, nope, rope, vDim, latent, _) = _shape;
                return (long)heads * ((long)_tokens * ((_maxPosition + 1) * (2L * latent + rope) + (long)(nope + vDim) * latent));
            }
        }

        public void Set(CpuTensor q, CpuTensor cache, CpuWeight w, CpuTensor o, ReadOnlySpan<TokenSlot> slots, MlaShape shape)
        {
            (_q, _cache, _w, _o, _shape, _tokens) = (q, cache, w, o, shape, slots.Length);
            Keep(ref _slots, slots, out _maxPosition);
        }

        public void Clear() => (_q, _cache, _w, _o) = (null!, null!, null!, null!);

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Execute(int part, int parts)
        {
            var (heads, nope, rope, vDim, latent, _) = _shape;
            var (start, end) = Split(heads, part, parts);
            // F32 weights are read in place; other dtypes decode the head's rows into wuk/wuv.
            var decode = !_w.IsF32;
            var wuk = decode ? ArrayPool<float>.Shared.Rent(nope * latent) : null;
            var wuv = decode ? ArrayPool<float>.Shared.Rent(vDim * latent) : null;
            var buffer = ArrayPool<float>.Shared.Rent(2 * latent + rope + _maxPosition + 1);
            try
            {
                for (var h = start; h < end; h++) Head(h, nope, rope, vDim, latent, wuk, wuv, buffer);
            }
            finally
            {
                if (wuk is not null) ArrayPool<float>.Shared.Return(wuk);
                if (wuv is not null) ArrayPool<float>.Shared.Return(wuv);
                ArrayPool<float>.Shared.Return(buffer);
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void Head(int h, int nope, int rope, int vDim, int latent, float[]? wuk, float[]? wuv, float[] buffer)
        {
            var qkDim = nope + rope;
            var scale = _shape.Scale;
            var rowBase = h * (nope + vDim);
            if (wuk is not null)
            {
                for (var i = 0; i < nope; i++) _w.DecodeRow(rowBase + i, wuk.AsSpan(i * latent, latent));
                for (var i = 0; i < vDim; i++) _w.DecodeRow(rowBase + nope + i, wuv.AsSpan(i * latent, latent));
            }
            // q_full = [W_UKᵀ·q_nope | q_pe] lines up with a cache row [c_kv | k_pe]: one dot product per position.
            var qFull = buffer.AsSpan(0, latent + rope);
            var ql = qFull[..latent];
            var ol = buffer.AsSpan(latent + rope, latent);
            Span<float> r = stackalloc float[4];
            for (var t = 0; t < _tokens; t++)
            {
                var slot = _slots[t];
                var qh = _q.Row(t).Slice(h * qkDim, qkDim);
                // q_latent = W_UKᵀ · q_nope: absorbs the key up-projection into the query.
                ql.Clear();
                for (var i = 0; i < nope; i++)
                    RowDot.AddScaled(wuk is null ? _w.F32Row(rowBase + i) : wuk.AsSpan(i * latent, latent), qh[i], ql);
                qh.Slice(nope, rope).CopyTo(qFull[latent..]);
                var n = slot.Position + 1;
                var p = buffer.AsSpan(2 * latent + rope, n);
                var j = 0;
                for (; j + 4 <= n; j += 4)
                {
                    var c = slot.FirstRow + j;
                    RowDot.Dot4(qFull, _cache.Row(c), _cache.Row(c + 1), _cache.Row(c + 2), _cache.Row(c + 3), r);
                    for (var k = 0; k < 4; k++) p[j + k] = r[k] * scale;
                }
                for (; j < n; j++) p[j] = RowDot.Dot(qFull, _cache.Row(slot.FirstRow + j)) * scale;
                TensorPrimitives.SoftMax(p, p);
                ol.Clear();
                for (j = 0; j < n; j++) RowDot.AddScaled(_cache.Row(slot.FirstRow + j)[..latent], p[j], ol);
                // out = W_UV · Σ p·c_kv: the value up-projection applied once, after the weighted sum.
                var oh = _o.Row(t).Slice(h * vDim, vDim);
                for (var i = 0; i < vDim; i++)
                    oh[i] = RowDot.Dot(wuv is null ? _w.F32Row(rowBase + nope + i) : wuv.AsSpan(i * latent, latent), ol);
            }
        }
    }
}
