using System.Buffers;
using System.Numerics.Tensors;

namespace DeepSeek.Runtime.Compute.Cpu;

public sealed partial class CpuBackend
{
    /// <inheritdoc/>
    public void Attention(ComputeTensor q, ComputeTensor keys, ComputeTensor values, ReadOnlySpan<TokenSlot> slots, AttentionShape shape, ComputeTensor output)
    {
        var qt = CpuTensor.Of(q);
        var k = CpuTensor.Of(keys);
        var v = CpuTensor.Of(values);
        var o = CpuTensor.Of(output);
        var (heads, kvHeads, qkDim, vDim, scale) = shape;
        if (qt.Cols != heads * qkDim || k.Cols != kvHeads * qkDim || v.Cols != kvHeads * vDim || o.Cols != heads * vDim || heads % kvHeads != 0 || slots.Length != qt.Rows)
            throw new ArgumentException($"attention shapes: q {qt}, k {k}, v {v}, out {o}, {shape}");
        var group = heads / kvHeads;
        var slotArray = slots.ToArray();

        Parallel.For(0, qt.Rows * heads, _parallel, work =>
        {
            int t = work / heads, h = work % heads, kh = h / group;
            var slot = slotArray[t];
            var n = slot.Position + 1;
            var scores = ArrayPool<float>.Shared.Rent(n);
            try
            {
                var qh = qt.Row(t).Slice(h * qkDim, qkDim);
                for (var j = 0; j < n; j++)
                    scores[j] = TensorPrimitives.Dot(qh, k.Row(slot.FirstRow + j).Slice(kh * qkDim, qkDim)) * scale;
                var p = scores.AsSpan(0, n);
                TensorPrimitives.SoftMax(p, p);
                var oh = o.Row(t).Slice(h * vDim, vDim);
                oh.Clear();
                for (var j = 0; j < n; j++)
                    TensorPrimitives.MultiplyAdd(v.Row(slot.FirstRow + j).Slice(kh * vDim, vDim), p[j], oh, oh);
            }
            finally
            {
                ArrayPool<float>.Shared.Return(scores);
            }
        });
    }

    /// <inheritdoc/>
    public void MlaAbsorbedAttention(ComputeTensor q, ComputeTensor latentCache, ComputeWeight wkvB, ReadOnlySpan<TokenSlot> slots, MlaShape shape, ComputeTensor output)
    {
        var qt = CpuTensor.Of(q);
        var cache = CpuTensor.Of(latentCache);
        var w = CpuWeight.Of(wkvB);
        var o = CpuTensor.Of(output);
        var (heads, nope, rope, vDim, latent, scale) = shape;
        var qkDim = nope + rope;
        if (qt.Cols != heads * qkDim || cache.Cols != latent + rope || w.Rows != heads * (nope + vDim) || w.Cols != latent || o.Cols != heads * vDim || slots.Length != qt.Rows)
            throw new ArgumentException($"absorbed MLA shapes: q {qt}, cache {cache}, kv_b {w}, out {o}, {shape}");
        var slotArray = slots.ToArray();
        var tokens = qt.Rows;

        // One head per work item: decode that head's W_UK [nope, latent] and W_UV [v, latent] once, use for every token.
        Parallel.For(0, heads, _parallel, h =>
        {
            var wuk = ArrayPool<float>.Shared.Rent(nope * latent);
            var wuv = ArrayPool<float>.Shared.Rent(vDim * latent);
            var qLatent = ArrayPool<float>.Shared.Rent(latent);
            var oLatent = ArrayPool<float>.Shared.Rent(latent);
            var scores = ArrayPool<float>.Shared.Rent(slotArray.Max(s => s.Position) + 1);
            try
            {
                var rowBase = h * (nope + vDim);
                for (var i = 0; i < nope; i++) w.DecodeRow(rowBase + i, wuk.AsSpan(i * latent, latent));
                for (var i = 0; i < vDim; i++) w.DecodeRow(rowBase + nope + i, wuv.AsSpan(i * latent, latent));
                var ql = qLatent.AsSpan(0, latent);
                var ol = oLatent.AsSpan(0, latent);
                for (var t = 0; t < tokens; t++)
                {
                    var slot = slotArray[t];
                    var qh = qt.Row(t).Slice(h * qkDim, qkDim);
                    // q_latent = W_UKᵀ · q_nope: absorbs the key up-projection into the query.
                    ql.Clear();
                    for (var i = 0; i < nope; i++) TensorPrimitives.MultiplyAdd(wuk.AsSpan(i * latent, latent), qh[i], ql, ql);
                    var qPe = qh.Slice(nope, rope);
                    var n = slot.Position + 1;
                    var p = scores.AsSpan(0, n);
                    for (var j = 0; j < n; j++)
                    {
                        var row = cache.Row(slot.FirstRow + j);
                        p[j] = (TensorPrimitives.Dot(ql, row[..latent]) + TensorPrimitives.Dot(qPe, row.Slice(latent, rope))) * scale;
                    }
                    TensorPrimitives.SoftMax(p, p);
                    ol.Clear();
                    for (var j = 0; j < n; j++) TensorPrimitives.MultiplyAdd(cache.Row(slot.FirstRow + j)[..latent], p[j], ol, ol);
                    // out = W_UV · Σ p·c_kv: the value up-projection applied once, after the weighted sum.
                    var oh = o.Row(t).Slice(h * vDim, vDim);
                    for (var i = 0; i < vDim; i++) oh[i] = TensorPrimitives.Dot(wuv.AsSpan(i * latent, latent), ol);
                }
            }
            finally
            {
                ArrayPool<float>.Shared.Return(wuk);
                ArrayPool<float>.Shared.Return(wuv);
                ArrayPool<float>.Shared.Return(qLatent);
                ArrayPool<float>.Shared.Return(oLatent);
                ArrayPool<float>.Shared.Return(scores);
            }
        });
    }
}
