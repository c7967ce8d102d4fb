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
        private bool _stream;

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
            // Lone rows (decode, one per sequence) read BF16/FP8 kv_b rows in place, widened in registers; rows sharing a
            // sequence go through Pair, which loads each decoded row once for two queries.
            _stream = w.IsBf16 || w.IsFp8InPlace;
            for (var t = 0; t + 1 < slots.Length && _stream; t++) _stream = slots[t + 1].FirstRow != slots[t].FirstRow;
        }

        public void Clear() => (_q, _cache, _w, _o) = (null!, null!, null!, null!);

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Execute(int part, int parts)
        {
            var (heads, nope, rope, vDim, latent, _) = _shape;
            var (start, end) = Split(heads, part, parts);
            // F32 weights are read in place, and streamable ones for lone rows; otherwise the head's rows are decoded into wuk/wuv.
            var decode = !_w.IsF32 && !_stream;
            var wuk = decode ? ArrayPool<float>.Shared.Rent(nope * latent) : null;
            var wuv = decode ? ArrayPool<float>.Shared.Rent(vDim * latent) : null;
            var buffer = ArrayPool<float>.Shared.Rent(2 * (2 * latent + rope + _maxPosition + 1));
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
            var rowBase = h * (nope + vDim);
            if (wuk is not null)
            {
                for (var i = 0; i < nope; i++) _w.DecodeRow(rowBase + i, wuk.AsSpan(i * latent, latent));
                for (var i = 0; i < vDim; i++) _w.DecodeRow(rowBase + nope + i, wuv.AsSpan(i * latent, latent));
            }
            // Two rows over the same cached sequence (a speculative step's token and draft, or neighbouring prefill rows)
            // go through together: each W_UK/W_UV row and each cache row is loaded once for both queries. Every value is
            // the same fixed-order sum as for a lone row, so a row's result does not depend on its neighbours.
            var t = 0;
            while (t < _tokens)
            {
                if (t + 1 < _tokens && _slots[t + 1].FirstRow == _slots[t].FirstRow)
                {
                    Pair(h, t, nope, rope, vDim, latent, wuk, wuv, buffer);
                    t += 2;
                }
                else Single(h, t++, nope, rope, vDim, latent, wuk, wuv, buffer);
            }
        }

        /// <summary>Cache rows [first, first + n), each's first <paramref name="width"/> values (the latent c_kv) at the cache's stride.</summary>
        private ReadOnlySpan<float> CacheRows(int first, int n, int width) =>
            _cache.Data.AsSpan(_cache.Offset + first * _cache.Stride, (n - 1) * _cache.Stride + width);

        private ReadOnlySpan<float> Wuk(int h, int i, int nope, int vDim, int latent, float[]? wuk) =>
            wuk is null ? _w.F32Row(h * (nope + vDim) + i) : wuk.AsSpan(i * latent, latent);

        private ReadOnlySpan<float> Wuv(int h, int i, int nope, int vDim, int latent, float[]? wuv) =>
            wuv is null ? _w.F32Row(h * (nope + vDim) + nope + i) : wuv.AsSpan(i * latent, latent);

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void Single(int h, int t, int nope, int rope, int vDim, int latent, float[]? wuk, float[]? wuv, float[] buffer)
        {
            var qkDim = nope + rope;
            var scale = _shape.Scale;
            // q_full = [W_UKᵀ·q_nope | q_pe] lines up with a cache row [c_kv | k_pe]: one dot product per position.
            var qFull = buffer.AsSpan(0, latent + rope);
            var ql = qFull[..latent];
            var ol = buffer.AsSpan(latent + rope, latent);
            Span<float> r = stackalloc float[4];
            var slot = _slots[t];
            var qh = _q.Row(t).Slice(h * qkDim, qkDim);
            // q_latent = W_UKᵀ · q_nope: absorbs the key up-projection into the query.
            ql.Clear();
            var rowBase = h * (nope + vDim);
            if (_stream)
            {
                for (var i = 0; i < nope; i++)
                {
                    if (_w.IsBf16) RowDot.AddScaledBf16(_w.Bf16Row(rowBase + i), qh[i], ql);
                    else RowDot.AddScaledFp8(_w.Fp8Row(rowBase + i), _w.Fp8RowScales(rowBase + i), _w.BlockCols, qh[i], ql);
                }
            }
            else
                for (var i = 0; i < nope; i++) RowDot.AddScaled(Wuk(h, i, nope, vDim, latent, wuk), qh[i], ql);
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
            RowDot.WeightedSum(p, CacheRows(slot.FirstRow, n, latent), _cache.Stride, ol);
            // out = W_UV · Σ p·c_kv: the value up-projection applied once, after the weighted sum.
            var oh = _o.Row(t).Slice(h * vDim, vDim);
            if (_stream)
            {
                // Dot4's lanes are Dot, and DotBf16/DotFp8 are Dot of the decoded row: the same values.
                for (var i = 0; i < vDim; i++)
                {
                    var row = rowBase + nope + i;
                    oh[i] = _w.IsBf16 ? RowDot.DotBf16(ol, _w.Bf16Row(row)) : RowDot.DotFp8(ol, _w.Fp8Row(row), _w.Fp8RowScales(row), _w.BlockCols);
                }
                return;
            }
            var i0 = 0;
            for (; i0 + 4 <= vDim; i0 += 4)
            {
                RowDot.Dot4(ol, Wuv(h, i0, nope, vDim, latent, wuv), Wuv(h, i0 + 1, nope, vDim, latent, wuv),
                    Wuv(h, i0 + 2, nope, vDim, latent, wuv), Wuv(h, i0 + 3, nope, vDim, latent, wuv), r);
                r.CopyTo(oh[i0..]);
            }
            for (; i0 < vDim; i0++) oh[i0] = RowDot.Dot(ol, Wuv(h, i0, nope, vDim, latent, wuv));
        }

        /// <summary>Rows t and t + 1 (same cached sequence), each exactly as <see cref="Single"/> computes it.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void Pair(int h, int t, int nope, int rope, int vDim, int latent, float[]? wuk, float[]? wuv, float[] buffer)
        {
            var qkDim = nope + rope;
            var scale = _shape.Scale;
            var first = _slots[t].FirstRow;
            int n0 = _slots[t].Position + 1, n1 = _slots[t + 1].Position + 1;
            var stride = 2 * latent + rope + _maxPosition + 1;
            var qFull0 = buffer.AsSpan(0, latent + rope);
            var qFull1 = buffer.AsSpan(stride, latent + rope);
            var ql0 = qFull0[..latent];
            var ql1 = qFull1[..latent];
            var ol0 = buffer.AsSpan(latent + rope, latent);
            var ol1 = buffer.AsSpan(stride + latent + rope, latent);
            var p0 = buffer.AsSpan(2 * latent + rope, n0);
            var p1 = buffer.AsSpan(stride + 2 * latent + rope, n1);
            Span<float> r = stackalloc float[8];
            var q0 = _q.Row(t).Slice(h * qkDim, qkDim);
            var q1 = _q.Row(t + 1).Slice(h * qkDim, qkDim);
            ql0.Clear();
            ql1.Clear();
            for (var i = 0; i < nope; i++) RowDot.AddScaled2(Wuk(h, i, nope, vDim, latent, wuk), q0[i], ql0, q1[i], ql1);
            q0.Slice(nope, rope).CopyTo(qFull0[latent..]);
            q1.Slice(nope, rope).CopyTo(qFull1[latent..]);

            var common = Math.Min(n0, n1);
            var j = 0;
            for (; j + 4 <= common; j += 4)
            {
                var c = first + j;
                RowDot.Dot4x2(qFull0, qFull1, _cache.Row(c), _cache.Row(c + 1), _cache.Row(c + 2), _cache.Row(c + 3), r);
                for (var k = 0; k < 4; k++)
                {
                    p0[j + k] = r[k] * scale;
                    p1[j + k] = r[4 + k] * scale;
                }
            }
            for (var k = j; k < n0; k++) p0[k] = RowDot.Dot(qFull0, _cache.Row(first + k)) * scale;
            for (var k = j; k < n1; k++) p1[k] = RowDot.Dot(qFull1, _cache.Row(first + k)) * scale;
            TensorPrimitives.SoftMax(p0, p0);
            TensorPrimitives.SoftMax(p1, p1);
            RowDot.WeightedSum2(p0, p1, CacheRows(first, Math.Max(n0, n1), latent), _cache.Stride, ol0, ol1);

            var oh0 = _o.Row(t).Slice(h * vDim, vDim);
            var oh1 = _o.Row(t + 1).Slice(h * vDim, vDim);
            var i0 = 0;
            for (; i0 + 4 <= vDim; i0 += 4)
            {
                RowDot.Dot4x2(ol0, ol1, Wuv(h, i0, nope, vDim, latent, wuv), Wuv(h, i0 + 1, nope, vDim, latent, wuv),
                    Wuv(h, i0 + 2, nope, vDim, latent, wuv), Wuv(h, i0 + 3, nope, vDim, latent, wuv), r);
                r[..4].CopyTo(oh0[i0..]);
                r[4..].CopyTo(oh1[i0..]);
            }
            for (; i0 < vDim; i0++)
            {
                var wr = Wuv(h, i0, nope, vDim, latent, wuv);
                oh0[i0] = RowDot.Dot(ol0, wr);
                oh1[i0] = RowDot.Dot(ol1, wr);
            }
        }
    }
}
