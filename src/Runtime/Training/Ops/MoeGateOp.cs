using System.Numerics;
using DeepSeek.Runtime.Checkpoints;

namespace DeepSeek.Runtime.Training.Ops;

/// <summary>
/// Gradient of the routed-expert weights with respect to the router logits, for a fixed choice of experts
/// (the selection, and the aux-loss-free bias that steers it, are not differentiated — MODEL.md):
/// s = sigmoid(l) or softmax(l); w_i = c·s_i / (Σ_chosen s + 1e-20) with norm_topk_prob, else c·s_i; c = routed_scaling_factor.
/// </summary>
public static class MoeGateOp
{
    /// <summary>Weights of the chosen experts <paramref name="ids"/> [T, k] from <paramref name="logits"/> [T, n].</summary>
    public static void Forward<T>(ModelConfig config, ReadOnlySpan<T> logits, ReadOnlySpan<int> ids, Span<T> weights, int tokens)
        where T : IFloatingPointIeee754<T> => Forward(config, logits, ids, weights, tokens, new T[config.NRoutedExperts]);

    /// <summary>As the public overload, with <paramref name="s"/> (≥ n elements) as scratch.</summary>
    internal static void Forward<T>(ModelConfig config, ReadOnlySpan<T> logits, ReadOnlySpan<int> ids, Span<T> weights, int tokens, Span<T> s)
        where T : IFloatingPointIeee754<T>
    {
        int n = config.NRoutedExperts, k = config.NumExpertsPerTok;
        s = s[..n];
        for (var t = 0; t < tokens; t++)
        {
            Scores(config, logits.Slice(t * n, n), s);
            var sum = T.Zero;
            for (var i = 0; i < k; i++) sum += s[ids[t * k + i]];
            var c = T.CreateChecked(config.RoutedScalingFactor);
            var denominator = Normalises(config) ? sum + T.CreateChecked(1e-20) : T.One;
            for (var i = 0; i < k; i++) weights[t * k + i] = c * s[ids[t * k + i]] / denominator;
        }
    }

    /// <summary>Accumulates dlogits [T, n] from dweights [T, k] (dL/dw_i = ⟨dy, expert_i(x)⟩ from the combine).</summary>
    public static void Backward<T>(ModelConfig config, ReadOnlySpan<T> logits, ReadOnlySpan<int> ids, ReadOnlySpan<T> dweights, Span<T> dlogits, int tokens)
        where T : IFloatingPointIeee754<T> =>
        Backward(config, logits, ids, dweights, dlogits, tokens, new T[2 * config.NRoutedExperts]);

    /// <summary>As the public overload, with <paramref name="scratch"/> (≥ 2n elements) instead of allocations.</summary>
    internal static void Backward<T>(ModelConfig config, ReadOnlySpan<T> logits, ReadOnlySpan<int> ids, ReadOnlySpan<T> dweights, Span<T> dlogits, int tokens, Span<T> scratch)
        where T : IFloatingPointIeee754<T>
    {
        int n = config.NRoutedExperts, k = config.NumExpertsPerTok;
        var s = scratch[..n];
        var ds = scratch.Slice(n, n);
        var c = T.CreateChecked(config.RoutedScalingFactor);
        for (var t = 0; t < tokens; t++)
        {
            Scores(config, logits.Slice(t * n, n), s);
            ds.Clear();
            var chosen = ids.Slice(t * k, k);
            var dw = dweights.Slice(t * k, k);
            if (Normalises(config))
            {
                // w_i = c·s_i/S: ∂w_i/∂s_m = c(δ_im/S − s_i/S²) for chosen m.
                var sum = T.Zero;
                foreach (var e in chosen) sum += s[e];
                sum += T.CreateChecked(1e-20);
                var weighted = T.Zero;
                for (var i = 0; i < k; i++) weighted += dw[i] * s[chosen[i]];
                for (var i = 0; i < k; i++) ds[chosen[i]] += c * (dw[i] / sum - weighted / (sum * sum));
            }
            else
            {
                for (var i = 0; i < k; i++) ds[chosen[i]] += c * dw[i];
            }

            ScoresBackward(config, s, ds, dlogits.Slice(t * n, n));
        }
    }

    /// <summary>Accumulates dl [n] from ds [n] through the scoring function (sigmoid or softmax) with scores <paramref name="s"/>.</summary>
    internal static void ScoresBackward<T>(ModelConfig config, ReadOnlySpan<T> s, ReadOnlySpan<T> ds, Span<T> dl) where T : IFloatingPointIeee754<T>
    {
        var n = s.Length;
        if (config.ScoringFunc == ScoringFunction.Sigmoid)
        {
            for (var e = 0; e < n; e++) dl[e] += ds[e] * s[e] * (T.One - s[e]);
        }
        else
        {
            // Softmax Jacobian: ∂s_i/∂l_j = s_i(δ_ij − s_j).
            var dot = T.Zero;
            for (var e = 0; e < n; e++) dot += ds[e] * s[e];
            for (var e = 0; e < n; e++) dl[e] += s[e] * (ds[e] - dot);
        }
    }

    private static bool Normalises(ModelConfig config) => config.NormTopKProb && config.NumExpertsPerTok > 1;

    /// <summary>Scores of every routed expert (sigmoid or softmax of the logits), unbiased.</summary>
    internal static void Scores<T>(ModelConfig config, ReadOnlySpan<T> logits, Span<T> scores) where T : IFloatingPointIeee754<T>
    {
        if (config.ScoringFunc == ScoringFunction.Sigmoid)
        {
            for (var e = 0; e < logits.Length; e++) scores[e] = SwiGluOp.Sigmoid(logits[e]);
            return;
        }
        var max = T.NegativeInfinity;
        foreach (var l in logits) max = T.Max(max, l);
        var z = T.Zero;
        for (var e = 0; e < logits.Length; e++) z += scores[e] = T.Exp(logits[e] - max);
        for (var e = 0; e < logits.Length; e++) scores[e] /= z;
    }
}
