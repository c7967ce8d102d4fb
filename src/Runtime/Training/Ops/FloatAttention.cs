using System.Numerics.Tensors;
using DeepSeek.Runtime.Compute.Cpu;

namespace DeepSeek.Runtime.Training.Ops;

/// <summary>
/// The float path of <see cref="AttentionOp"/>: the same math per head as five matrix products through
/// <see cref="PackedGemm"/> — S = Q·Kᵀ, O = P·V; backward dP = dO·Vᵀ, dV += Pᵀ·dO, dQ += dS·K, dK += dSᵀ·Q — each skipping
/// the blocks the causal mask zeroes. The generic path (any T) stays the reference the tests hold this one to.
/// </summary>
internal static class FloatAttention
{
    /// <summary>As <see cref="AttentionOp.Forward{T}"/>.</summary>
    public static void Forward(ReadOnlySpan<float> q, ReadOnlySpan<float> k, ReadOnlySpan<float> v, Span<float> o, Span<float> probs,
        int tokens, int heads, int kvHeads, int qkDim, int vDim, float scale)
    {
        var group = heads / kvHeads;
        var panel = PackedGemm.Rent(Math.Max(qkDim, tokens) * PackedGemm.PanelWidth(Math.Max(tokens, vDim)));
        try
        {
            for (var h = 0; h < heads; h++)
            {
                var kh = h / group;
                var p = probs.Slice(h * tokens * tokens, tokens * tokens);       // (T, T) this head's probabilities
                // S = Q_h·K_hᵀ, K_hᵀ packed [qk, T].
                PackedGemm.Pack(k[(kh * qkDim)..], rowStride: 1, colStride: kvHeads * qkDim, qkDim, tokens, panel);
                PackedGemm.Multiply(q[(h * qkDim)..], heads * qkDim, 1, panel, p, tokens, tokens, tokens, qkDim, accumulate: false, PackedGemm.Causal.NThroughRow);
                for (var t = 0; t < tokens; t++)
                {
                    var row = p.Slice(t * tokens, t + 1);
                    TensorPrimitives.Multiply(row, scale, row);
                    TensorPrimitives.Subtract(row, TensorPrimitives.Max(row), row);
                    TensorPrimitives.Exp(row, row);
                    TensorPrimitives.Divide(row, TensorPrimitives.Sum(row), row);
                    p.Slice(t * tokens + t + 1, tokens - t - 1).Clear();
                }
                // O_h = P·V_h, V_h packed [T, v].
                PackedGemm.Pack(v[(kh * vDim)..], rowStride: kvHeads * vDim, colStride: 1, tokens, vDim, panel);
                PackedGemm.Multiply(p, tokens, 1, panel, o[(h * vDim)..], heads * vDim, tokens, vDim, tokens, accumulate: false, PackedGemm.Causal.KThroughRow);
            }
        }
        finally
        {
            PackedGemm.Return(panel);
        }
    }

    /// <summary>As <see cref="AttentionOp.Backward{T}(ReadOnlySpan{T}, ReadOnlySpan{T}, ReadOnlySpan{T}, ReadOnlySpan{T}, ReadOnlySpan{T}, Span{T}, Span{T}, Span{T}, int, int, int, int, int, T)"/>.</summary>
    public static void Backward(ReadOnlySpan<float> dO, ReadOnlySpan<float> q, ReadOnlySpan<float> k, ReadOnlySpan<float> v, ReadOnlySpan<float> probs,
        Span<float> dq, Span<float> dk, Span<float> dv, int tokens, int heads, int kvHeads, int qkDim, int vDim, float scale)
    {
        var group = heads / kvHeads;
        var width = Math.Max(qkDim, Math.Max(tokens, vDim));
        var panel = PackedGemm.Rent(width * PackedGemm.PanelWidth(width));
        var scores = PackedGemm.Rent(tokens * tokens);                          // (T, T) dP, then dS
        try
        {
            var ds = scores.AsSpan(0, tokens * tokens);
            for (var h = 0; h < heads; h++)
            {
                var kh = h / group;
                var p = probs.Slice(h * tokens * tokens, tokens * tokens);
                // dP = dO_h·V_hᵀ (V_hᵀ packed [v, T]).
                PackedGemm.Pack(v[(kh * vDim)..], rowStride: 1, colStride: kvHeads * vDim, vDim, tokens, panel);
                PackedGemm.Multiply(dO[(h * vDim)..], heads * vDim, 1, panel, ds, tokens, tokens, tokens, vDim, accumulate: false, PackedGemm.Causal.NThroughRow);
                // dV_h += Pᵀ·dO_h (dO_h packed [T, v]).
                PackedGemm.Pack(dO[(h * vDim)..], rowStride: heads * vDim, colStride: 1, tokens, vDim, panel);
                PackedGemm.Multiply(p, 1, tokens, panel, dv[(kh * vDim)..], kvHeads * vDim, tokens, vDim, tokens, accumulate: true, PackedGemm.Causal.KFromRow);
                // dS = P ⊙ (dP − Σ_j dP ⊙ P) · scale on the causal part, 0 above it.
                for (var t = 0; t < tokens; t++)
                {
                    var pr = p.Slice(t * tokens, t + 1);
                    var row = ds.Slice(t * tokens, t + 1);
                    var sum = TensorPrimitives.Dot(row, pr);
                    TensorPrimitives.Subtract(row, sum, row);
                    TensorPrimitives.Multiply(row, pr, row);
                    TensorPrimitives.Multiply(row, scale, row);
                    ds.Slice(t * tokens + t + 1, tokens - t - 1).Clear();
                }
                // dQ_h += dS·K_h (K_h packed [T, qk]); dK_h += dSᵀ·Q_h (Q_h packed [T, qk]).
                PackedGemm.Pack(k[(kh * qkDim)..], rowStride: kvHeads * qkDim, colStride: 1, tokens, qkDim, panel);
                PackedGemm.Multiply(ds, tokens, 1, panel, dq[(h * qkDim)..], heads * qkDim, tokens, qkDim, tokens, accumulate: true, PackedGemm.Causal.KThroughRow);
                PackedGemm.Pack(q[(h * qkDim)..], rowStride: heads * qkDim, colStride: 1, tokens, qkDim, panel);
                PackedGemm.Multiply(ds, 1, tokens, panel, dk[(kh * qkDim)..], kvHeads * qkDim, tokens, qkDim, tokens, accumulate: true, PackedGemm.Causal.KFromRow);
            }
        }
        finally
        {
            PackedGemm.Return(scores);
            PackedGemm.Return(panel);
        }
    }
}
