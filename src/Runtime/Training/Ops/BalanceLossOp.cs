using System.Numerics;
using DeepSeek.Runtime.Checkpoints;

namespace DeepSeek.Runtime.Training.Ops;

/// <summary>
/// Complementary sequence-wise balance loss (DeepSeek-V3 §2.1.2) of one MoE layer over one sequence of T tokens:
/// s′_{i,t} = s_{i,t} / Σ_j s_{j,t} (unbiased scores of all routed experts); f_i = N_r/(K·T) · Σ_t 1[i ∈ top-K of t];
/// P_i = (1/T) Σ_t s′_{i,t}; L = α Σ_i f_i P_i. The choice (f) is a constant; the gradient flows through P into the logits.
/// </summary>
public static class BalanceLossOp
{
    /// <summary>L for logits [T, n] and the chosen experts <paramref name="ids"/> [T, k].</summary>
    public static T Forward<T>(ModelConfig config, ReadOnlySpan<T> logits, ReadOnlySpan<int> ids, int tokens, T alpha)
        where T : IFloatingPointIeee754<T> => Forward(config, logits, ids, tokens, alpha, new T[2 * config.NRoutedExperts]);

    /// <summary>As the public overload, with <paramref name="scratch"/> (≥ 2n elements) instead of allocations.</summary>
    internal static T Forward<T>(ModelConfig config, ReadOnlySpan<T> logits, ReadOnlySpan<int> ids, int tokens, T alpha, Span<T> scratch)
        where T : IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(config);
        var n = config.NRoutedExperts;
        var f = scratch[..n];
        Frequencies(config, ids, tokens, f);
        var s = scratch.Slice(n, n);
        var loss = T.Zero;
        for (var t = 0; t < tokens; t++)
        {
            MoeGateOp.Scores(config, logits.Slice(t * n, n), s);
            var sum = T.Zero;
            foreach (var v in s) sum += v;
            var row = T.Zero;
            for (var i = 0; i < n; i++) row += f[i] * (s[i] / sum);
            loss += row;
        }
        return alpha * loss / T.CreateChecked(tokens);
    }

    /// <summary>Accumulates <paramref name="scale"/> · ∂L/∂logits into <paramref name="dlogits"/> [T, n].</summary>
    public static void Backward<T>(ModelConfig config, ReadOnlySpan<T> logits, ReadOnlySpan<int> ids, int tokens, T alpha, T scale, Span<T> dlogits)
        where T : IFloatingPointIeee754<T> => Backward(config, logits, ids, tokens, alpha, scale, dlogits, new T[3 * config.NRoutedExperts]);

    /// <summary>As the public overload, with <paramref name="scratch"/> (≥ 3n elements) instead of allocations.</summary>
    internal static void Backward<T>(ModelConfig config, ReadOnlySpan<T> logits, ReadOnlySpan<int> ids, int tokens, T alpha, T scale, Span<T> dlogits, Span<T> scratch)
        where T : IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(config);
        var n = config.NRoutedExperts;
        // ∂L/∂s′_{i,t} = α f_i / T, the same for every token.
        var g = scratch[..n];
        Frequencies(config, ids, tokens, g);
        var c = scale * alpha / T.CreateChecked(tokens);
        for (var i = 0; i < n; i++) g[i] = c * g[i];
        var s = scratch.Slice(n, n);
        var ds = scratch.Slice(2 * n, n);
        for (var t = 0; t < tokens; t++)
        {
            MoeGateOp.Scores(config, logits.Slice(t * n, n), s);
            var sum = T.Zero;
            foreach (var v in s) sum += v;
            // s′_i = s_i/S: ∂s′_i/∂s_j = (δ_ij − s′_i)/S.
            var dot = T.Zero;
            for (var i = 0; i < n; i++) dot += g[i] * (s[i] / sum);
            for (var j = 0; j < n; j++) ds[j] = (g[j] - dot) / sum;
            MoeGateOp.ScoresBackward<T>(config, s, ds, dlogits.Slice(t * n, n));
        }
    }

    /// <summary>f_i = N_r/(K·T) · (tokens choosing expert i), written to <paramref name="f"/> [n].</summary>
    private static void Frequencies<T>(ModelConfig config, ReadOnlySpan<int> ids, int tokens, Span<T> f) where T : IFloatingPointIeee754<T>
    {
        int n = config.NRoutedExperts, k = config.NumExpertsPerTok;
        f[..n].Clear();
        foreach (var e in ids[..(tokens * k)]) f[e] += T.One;
        var c = T.CreateChecked(n) / T.CreateChecked(k * tokens);
        for (var i = 0; i < n; i++) f[i] = c * f[i];
    }
}
