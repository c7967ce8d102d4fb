using System.Numerics;
using DeepSeek.Runtime.Compute.Cpu;

namespace DeepSeek.Runtime.Training.Ops;

/// <summary>
/// Causal softmax attention over one sequence: q [T, H·dq], k [T, Hkv·dq], v [T, Hkv·dv] → o [T, H·dv], query head h
/// reading KV head h / (H/Hkv). Forward keeps the probabilities P [H, T, T] (row t has t+1 entries used). Backward:
/// dV += Pᵀ·dO; dP = dO·Vᵀ; dS = P ⊙ (dP − Σ_j dP ⊙ P); dQ += scale·dS·K; dK += scale·dSᵀ·Q.
/// </summary>
public static class AttentionOp
{
    /// <summary>Computes o and fills <paramref name="probs"/> [heads, T, T].</summary>
    public static void Forward<T>(ReadOnlySpan<T> q, ReadOnlySpan<T> k, ReadOnlySpan<T> v, Span<T> o, Span<T> probs,
        int tokens, int heads, int kvHeads, int qkDim, int vDim, T scale) where T : IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float) && PackedGemm.IsSupported)
        {
            FloatAttention.Forward(LinearOp.AsFloat(q), LinearOp.AsFloat(k), LinearOp.AsFloat(v), LinearOp.AsFloat(o), LinearOp.AsFloat(probs),
                tokens, heads, kvHeads, qkDim, vDim, float.CreateTruncating(scale));
            return;
        }
        var group = heads / kvHeads;
        for (var h = 0; h < heads; h++)
        {
            var kh = h / group;
            for (var t = 0; t < tokens; t++)
            {
                var p = probs.Slice((h * tokens + t) * tokens, tokens);
                var qt = q.Slice((t * heads + h) * qkDim, qkDim);
                var max = T.NegativeInfinity;
                for (var j = 0; j <= t; j++)
                {
                    p[j] = LinearOp.Dot(qt, k.Slice((j * kvHeads + kh) * qkDim, qkDim)) * scale;
                    max = T.Max(max, p[j]);
                }
                var z = T.Zero;
                for (var j = 0; j <= t; j++) z += p[j] = T.Exp(p[j] - max);
                for (var j = 0; j <= t; j++) p[j] /= z;
                p[(t + 1)..].Clear();
                var ot = o.Slice((t * heads + h) * vDim, vDim);
                ot.Clear();
                for (var j = 0; j <= t; j++) LinearOp.AddScaled(ot, v.Slice((j * kvHeads + kh) * vDim, vDim), p[j]);
            }
        }
    }

    /// <summary>Accumulates dq, dk, dv from do using the forward's probabilities.</summary>
    public static void Backward<T>(ReadOnlySpan<T> dO, ReadOnlySpan<T> q, ReadOnlySpan<T> k, ReadOnlySpan<T> v, ReadOnlySpan<T> probs,
        Span<T> dq, Span<T> dk, Span<T> dv, int tokens, int heads, int kvHeads, int qkDim, int vDim, T scale) where T : IFloatingPointIeee754<T> =>
        Backward(dO, q, k, v, probs, dq, dk, dv, tokens, heads, kvHeads, qkDim, vDim, scale, new T[tokens]);

    /// <summary>As the public overload, with <paramref name="dp"/> (≥ T elements) as scratch instead of an allocation.</summary>
    internal static void Backward<T>(ReadOnlySpan<T> dO, ReadOnlySpan<T> q, ReadOnlySpan<T> k, ReadOnlySpan<T> v, ReadOnlySpan<T> probs,
        Span<T> dq, Span<T> dk, Span<T> dv, int tokens, int heads, int kvHeads, int qkDim, int vDim, T scale, Span<T> dp) where T : IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float) && PackedGemm.IsSupported)
        {
            FloatAttention.Backward(LinearOp.AsFloat(dO), LinearOp.AsFloat(q), LinearOp.AsFloat(k), LinearOp.AsFloat(v), LinearOp.AsFloat(probs),
                LinearOp.AsFloat(dq), LinearOp.AsFloat(dk), LinearOp.AsFloat(dv), tokens, heads, kvHeads, qkDim, vDim, float.CreateTruncating(scale));
            return;
        }
        var group = heads / kvHeads;
        for (var h = 0; h < heads; h++)
        {
            var kh = h / group;
            for (var t = 0; t < tokens; t++)
            {
                var p = probs.Slice((h * tokens + t) * tokens, tokens);
                var dot = dO.Slice((t * heads + h) * vDim, vDim);
                // dP_j = dO·v_j and dV_j += P_j·dO.
                var sum = T.Zero;
                for (var j = 0; j <= t; j++)
                {
                    var s = LinearOp.Dot(dot, v.Slice((j * kvHeads + kh) * vDim, vDim));
                    LinearOp.AddScaled(dv.Slice((j * kvHeads + kh) * vDim, vDim), dot, p[j]);
                    dp[j] = s;
                    sum += s * p[j];
                }
                // Softmax backward, then the score's two factors.
                var qt = q.Slice((t * heads + h) * qkDim, qkDim);
                var dqt = dq.Slice((t * heads + h) * qkDim, qkDim);
                for (var j = 0; j <= t; j++)
                {
                    var ds = p[j] * (dp[j] - sum) * scale;
                    LinearOp.AddScaled(dqt, k.Slice((j * kvHeads + kh) * qkDim, qkDim), ds);
                    LinearOp.AddScaled(dk.Slice((j * kvHeads + kh) * qkDim, qkDim), qt, ds);
                }
            }
        }
    }
}
