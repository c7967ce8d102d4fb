using System.Buffers;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;

namespace DeepSeek.Runtime.Compute.Cpu;

public sealed partial class CpuBackend
{
    /// <summary>
    /// Absorbed MLA over the latent cache. Each part takes a range of heads and runs three phases over the token rows:
    /// (A) per head, q_latent = W_UKᵀ·q_nope for every row (the head's W_UK rows read once — in place, or decoded once
    /// when they are neither F32 nor streamable); (B) per row (two rows of one sequence together), the scores and the
    /// weighted latent sum for all the part's heads, walking the cache in blocks of <see cref="PositionBlock"/> positions
    /// with the heads inside, so each cache block is read from memory once for every head rather than once per head (at
    /// 2,048 cached tokens the cache is 4.7 MB a layer, and sixteen passes over it cost more than the arithmetic);
    /// (C) per head, out = W_UV·Σ p·c_kv for every row. Every value is the same fixed-order sum as a row computed alone —
    /// scores by <see cref="RowDot.Dot"/> (Dot4/Dot4x2 lanes are Dot), the latent sum one FMA chain per element over the
    /// positions in order (<see cref="RowDot.WeightedSum2"/>, continued block to block) — so a row's result depends
    /// neither on its neighbours nor on the blocking.
    /// </summary>
    private sealed class MlaJob : ICpuJob
    {
        /// <summary>Cache positions per block of phase B: 64 rows of V2-Lite's 576 floats (147 KB) stay in L2 while every head passes.</summary>
        internal const int PositionBlock = 64;

        /// <summary>Token rows whose q_latent and latent sums are held at once (bounds the per-part buffers for long prefills).</summary>
        private const int RowChunk = 64;

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
            // sequence go as pairs, which load each decoded row once for two queries.
            _stream = w.IsBf16 || w.IsFp8InPlace;
            for (var t = 0; t + 1 < slots.Length && _stream; t++) _stream = slots[t + 1].FirstRow != slots[t].FirstRow;
        }

        public void Clear() => (_q, _cache, _w, _o) = (null!, null!, null!, null!);

        /// <summary>Rows in the group starting at <paramref name="t"/>: 2 when the next row reads the same cached sequence, else 1.</summary>
        private int GroupAt(int t) => t + 1 < _tokens && _slots[t + 1].FirstRow == _slots[t].FirstRow ? 2 : 1;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Execute(int part, int parts)
        {
            var (heads, nope, rope, vDim, latent, _) = _shape;
            var (h0, h1) = Split(heads, part, parts);
            var hs = h1 - h0;
            if (hs == 0) return;
            // F32 weights are read in place, and streamable ones for lone rows; otherwise the part's W_UK/W_UV rows are decoded once.
            var decoded = !_w.IsF32 && !_stream ? ArrayPool<float>.Shared.Rent(hs * (nope + vDim) * latent) : null;
            var rows = Math.Min(_tokens, RowChunk + 1);
            var qf = ArrayPool<float>.Shared.Rent(rows * hs * (latent + rope));
            var ol = ArrayPool<float>.Shared.Rent(rows * hs * latent);
            var p = ArrayPool<float>.Shared.Rent(2 * hs * (_maxPosition + 1));
            try
            {
                if (decoded is not null)
                    for (var h = h0; h < h1; h++)
                        for (var i = 0; i < nope + vDim; i++)
                            _w.DecodeRow(h * (nope + vDim) + i, decoded.AsSpan(((h - h0) * (nope + vDim) + i) * latent, latent));
                for (var t0 = 0; t0 < _tokens;)
                {
                    // A chunk of whole groups (a pair is never split).
                    var t1 = t0;
                    while (t1 < _tokens && t1 - t0 < RowChunk) t1 += GroupAt(t1);
                    var buffers = new Buffers(qf, ol, p, t0, hs, latent + rope, latent, _maxPosition + 1);
                    for (var h = h0; h < h1; h++) Absorb(h, h - h0, t0, t1, decoded, buffers);
                    for (var t = t0; t < t1; t += GroupAt(t)) Attend(t, GroupAt(t), hs, buffers);
                    for (var h = h0; h < h1; h++) Project(h, h - h0, t0, t1, decoded, buffers);
                    t0 = t1;
                }
            }
            finally
            {
                if (decoded is not null) ArrayPool<float>.Shared.Return(decoded);
                ArrayPool<float>.Shared.Return(qf);
                ArrayPool<float>.Shared.Return(ol);
                ArrayPool<float>.Shared.Return(p);
            }
        }

        /// <summary>
        /// The part's per-row buffers: q_full = [W_UKᵀ·q_nope | q_pe] (lines up with a cache row [c_kv | k_pe]) and the
        /// latent sum for each (row of the chunk, head), and the scores of one group's two rows for each head.
        /// </summary>
        private readonly record struct Buffers(float[] Q, float[] Latent, float[] Scores, int FirstRow, int Heads, int QWidth, int LatentWidth, int MaxN)
        {
            public Span<float> QFull(int t, int hh) => Q.AsSpan(((t - FirstRow) * Heads + hh) * QWidth, QWidth);

            public Span<float> Sum(int t, int hh) => Latent.AsSpan(((t - FirstRow) * Heads + hh) * LatentWidth, LatentWidth);

            /// <summary>Scores of (row of the group, head).</summary>
            public Span<float> P(int row, int hh, int n) => Scores.AsSpan((row * Heads + hh) * MaxN, n);
        }

        private ReadOnlySpan<float> WRow(int h, int hh, int i, int nope, int vDim, int latent, float[]? decoded) =>
            decoded is null ? _w.F32Row(h * (nope + vDim) + i) : decoded.AsSpan((hh * (nope + vDim) + i) * latent, latent);

        /// <summary>The first <paramref name="count"/> kv_b rows of head h (F32 in place or decoded), contiguous at stride latent.</summary>
        private ReadOnlySpan<float> WRows(int h, int hh, int count, int nope, int vDim, int latent, float[]? decoded) =>
            decoded is null ? _w.F32Rows(h * (nope + vDim), count) : decoded.AsSpan(hh * (nope + vDim) * latent, count * latent);

        /// <summary>Phase A for head h: q_full of rows [t0, t1).</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void Absorb(int h, int hh, int t0, int t1, float[]? decoded, Buffers b)
        {
            var (_, nope, rope, vDim, latent, _) = _shape;
            var qkDim = nope + rope;
            var rowBase = h * (nope + vDim);
            for (var t = t0; t < t1;)
            {
                var two = GroupAt(t) == 2;
                var q0 = _q.Row(t).Slice(h * qkDim, qkDim);
                var ql0 = b.QFull(t, hh)[..latent];
                if (two)
                {
                    var q1 = _q.Row(t + 1).Slice(h * qkDim, qkDim);
                    var ql1 = b.QFull(t + 1, hh)[..latent];
                    // Σ_i q[i]·W_UK[i] in order, one FMA chain per element: AddScaled row after row, sums in registers.
                    RowDot.WeightedSum2(q0[..nope], q1[..nope], WRows(h, hh, nope, nope, vDim, latent, decoded), latent, ql0, ql1);
                    q1.Slice(nope, rope).CopyTo(b.QFull(t + 1, hh)[latent..]);
                }
                else if (_stream && _w.IsBf16) RowDot.WeightedSumBf16(q0[..nope], _w.Bf16Rows(rowBase, nope), latent, ql0);
                else if (_stream)
                {
                    ql0.Clear();
                    for (var i = 0; i < nope; i++)
                        RowDot.AddScaledFp8(_w.Fp8Row(rowBase + i), _w.Fp8RowScales(rowBase + i), _w.BlockCols, q0[i], ql0);
                }
                else RowDot.WeightedSum(q0[..nope], WRows(h, hh, nope, nope, vDim, latent, decoded), latent, ql0);
                q0.Slice(nope, rope).CopyTo(b.QFull(t, hh)[latent..]);
                t += two ? 2 : 1;
            }
        }

        /// <summary>Phase B for the group of <paramref name="count"/> rows at t: scores, softmax and latent sums for every head of the part.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void Attend(int t, int count, int hs, Buffers b)
        {
            var (_, _, _, _, latent, scale) = _shape;
            var first = _slots[t].FirstRow;
            int n0 = _slots[t].Position + 1, n1 = count == 2 ? _slots[t + 1].Position + 1 : 0;
            var n = Math.Max(n0, n1);
            var common = Math.Min(n0, n1);
            Span<float> r = stackalloc float[8];
            for (var j0 = 0; j0 < n; j0 += PositionBlock)
            {
                var j1 = Math.Min(j0 + PositionBlock, n);
                for (var hh = 0; hh < hs; hh++)
                {
                    var qa = b.QFull(t, hh);
                    var pa = b.P(0, hh, n0);
                    var j = j0;
                    if (count == 2)
                    {
                        var qb = b.QFull(t + 1, hh);
                        var pb = b.P(1, hh, n1);
                        for (; j + 4 <= Math.Min(j1, common); j += 4)
                        {
                            var c = first + j;
                            RowDot.Dot4x2(qa, qb, _cache.Row(c), _cache.Row(c + 1), _cache.Row(c + 2), _cache.Row(c + 3), r);
                            for (var k = 0; k < 4; k++)
                            {
                                pa[j + k] = r[k] * scale;
                                pb[j + k] = r[4 + k] * scale;
                            }
                        }
                        for (var k = j; k < Math.Min(j1, n1); k++) pb[k] = RowDot.Dot(qb, _cache.Row(first + k)) * scale;
                        for (var k = j; k < Math.Min(j1, n0); k++) pa[k] = RowDot.Dot(qa, _cache.Row(first + k)) * scale;
                        continue;
                    }
                    if (hh + 1 < hs)
                    {
                        // A lone row: two heads share each cache row load (Dot4x2's lanes are Dot, like Dot4's).
                        var qb = b.QFull(t, hh + 1);
                        var pb = b.P(0, hh + 1, n0);
                        for (; j + 4 <= j1; j += 4)
                        {
                            var c = first + j;
                            RowDot.Dot4x2(qa, qb, _cache.Row(c), _cache.Row(c + 1), _cache.Row(c + 2), _cache.Row(c + 3), r);
                            for (var k = 0; k < 4; k++)
                            {
                                pa[j + k] = r[k] * scale;
                                pb[j + k] = r[4 + k] * scale;
                            }
                        }
                        for (; j < j1; j++)
                        {
                            pa[j] = RowDot.Dot(qa, _cache.Row(first + j)) * scale;
                            pb[j] = RowDot.Dot(qb, _cache.Row(first + j)) * scale;
                        }
                        hh++;
                        continue;
                    }
                    for (; j + 4 <= j1; j += 4)
                    {
                        var c = first + j;
                        RowDot.Dot4(qa, _cache.Row(c), _cache.Row(c + 1), _cache.Row(c + 2), _cache.Row(c + 3), r);
                        for (var k = 0; k < 4; k++) pa[j + k] = r[k] * scale;
                    }
                    for (; j < j1; j++) pa[j] = RowDot.Dot(qa, _cache.Row(first + j)) * scale;
                }
            }
            for (var hh = 0; hh < hs; hh++)
            {
                var pa = b.P(0, hh, n0);
                TensorPrimitives.SoftMax(pa, pa);
                if (count == 2)
                {
                    var pb = b.P(1, hh, n1);
                    TensorPrimitives.SoftMax(pb, pb);
                }
            }
            for (var j0 = 0; j0 < n; j0 += PositionBlock)
            {
                var j1 = Math.Min(j0 + PositionBlock, n);
                var rows = _cache.Data.AsSpan(_cache.Offset + (first + j0) * _cache.Stride, (j1 - j0 - 1) * _cache.Stride + latent);
                for (var hh = 0; hh < hs; hh++)
                {
                    var pa = b.P(0, hh, n0)[Math.Min(j0, n0)..Math.Min(j1, n0)];
                    if (count == 2)
                    {
                        var pb = b.P(1, hh, n1)[Math.Min(j0, n1)..Math.Min(j1, n1)];
                        RowDot.WeightedSum2(pa, pb, rows, _cache.Stride, b.Sum(t, hh), b.Sum(t + 1, hh), accumulate: j0 > 0);
                    }
                    else if (hh + 1 < hs)
                    {
                        // A lone row: two heads per cache row load.
                        RowDot.WeightedSum2(pa, b.P(0, hh + 1, n0)[j0..j1], rows, _cache.Stride, b.Sum(t, hh), b.Sum(t, hh + 1), accumulate: j0 > 0);
                        hh++;
                    }
                    else RowDot.WeightedSum2(pa, [], rows, _cache.Stride, b.Sum(t, hh), [], accumulate: j0 > 0);
                }
            }
        }

        /// <summary>Phase C for head h: out = W_UV·(latent sum) for rows [t0, t1).</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void Project(int h, int hh, int t0, int t1, float[]? decoded, Buffers b)
        {
            var (_, nope, _, vDim, latent, _) = _shape;
            var rowBase = h * (nope + vDim);
            Span<float> r = stackalloc float[8];
            for (var t = t0; t < t1;)
            {
                var two = GroupAt(t) == 2;
                var ol0 = b.Sum(t, hh);
                var oh0 = _o.Row(t).Slice(h * vDim, vDim);
                if (two)
                {
                    var ol1 = b.Sum(t + 1, hh);
                    var oh1 = _o.Row(t + 1).Slice(h * vDim, vDim);
                    var i = 0;
                    for (; i + 4 <= vDim; i += 4)
                    {
                        RowDot.Dot4x2(ol0, ol1, WRow(h, hh, nope + i, nope, vDim, latent, decoded), WRow(h, hh, nope + i + 1, nope, vDim, latent, decoded),
                            WRow(h, hh, nope + i + 2, nope, vDim, latent, decoded), WRow(h, hh, nope + i + 3, nope, vDim, latent, decoded), r);
                        r[..4].CopyTo(oh0[i..]);
                        r[4..].CopyTo(oh1[i..]);
                    }
                    for (; i < vDim; i++)
                    {
                        var wr = WRow(h, hh, nope + i, nope, vDim, latent, decoded);
                        oh0[i] = RowDot.Dot(ol0, wr);
                        oh1[i] = RowDot.Dot(ol1, wr);
                    }
                    t += 2;
                    continue;
                }
                if (_stream)
                {
                    // DotBf16/DotFp8 are Dot of the decoded row: the same values as the Dot4 lanes below.
                    for (var i = 0; i < vDim; i++)
                    {
                        var row = rowBase + nope + i;
                        oh0[i] = _w.IsBf16 ? RowDot.DotBf16(ol0, _w.Bf16Row(row)) : RowDot.DotFp8(ol0, _w.Fp8Row(row), _w.Fp8RowScales(row), _w.BlockCols);
                    }
                }
                else
                {
                    var i = 0;
                    for (; i + 4 <= vDim; i += 4)
                    {
                        RowDot.Dot4(ol0, WRow(h, hh, nope + i, nope, vDim, latent, decoded), WRow(h, hh, nope + i + 1, nope, vDim, latent, decoded),
                            WRow(h, hh, nope + i + 2, nope, vDim, latent, decoded), WRow(h, hh, nope + i + 3, nope, vDim, latent, decoded), r);
                        r[..4].CopyTo(oh0[i..]);
                    }
                    for (; i < vDim; i++) oh0[i] = RowDot.Dot(ol0, WRow(h, hh, nope + i, nope, vDim, latent, decoded));
                }
                t++;
            }
        }
    }
}
