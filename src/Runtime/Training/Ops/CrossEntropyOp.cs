using System.Numerics;

namespace DeepSeek.Runtime.Training.Ops;

/// <summary>
/// Mean next-token cross-entropy over the positions whose target is not <see cref="IgnoreIndex"/>:
/// loss = −(1/N) Σ log softmax(logits_t)[target_t]; dlogits_t = (softmax(logits_t) − onehot(target_t)) · scale / N
/// (ignored rows get zero gradient). <c>scale</c> weights the loss (e.g. λ for the MTP loss).
/// </summary>
public static class CrossEntropyOp
{
    /// <summary>Targets with this value contribute nothing (HF's −100).</summary>
    public const int IgnoreIndex = -100;

    /// <summary>Returns the loss and writes dlogits [rows, vocab] (overwritten, not accumulated).</summary>
    public static T ForwardBackward<T>(ReadOnlySpan<T> logits, ReadOnlySpan<int> targets, Span<T> dlogits, int vocab, T scale)
        where T : IFloatingPointIeee754<T>
    {
        var rows = targets.Length;
        var counted = 0;
        foreach (var target in targets)
        {
            if (target == IgnoreIndex) continue;
            if ((uint)target >= (uint)vocab) throw new ArgumentOutOfRangeException(nameof(targets), $"target {target} outside [0, {vocab})");
            counted++;
        }
        dlogits[..(rows * vocab)].Clear();
        if (counted == 0) return T.Zero;
        var n = T.CreateChecked(counted);
        var loss = T.Zero;
        for (var r = 0; r < rows; r++)
        {
            if (targets[r] == IgnoreIndex) continue;
            var l = logits.Slice(r * vocab, vocab);
            var max = T.NegativeInfinity;
            foreach (var v in l) max = T.Max(max, v);
            var z = T.Zero;
            foreach (var v in l) z += T.Exp(v - max);
            var logZ = max + T.Log(z);
            loss += logZ - l[targets[r]];
            var d = dlogits.Slice(r * vocab, vocab);
            for (var i = 0; i < vocab; i++) d[i] = T.Exp(l[i] - logZ) * scale / n;
            d[targets[r]] -= scale / n;
        }
        return loss * scale / n;
    }
    /// <summary>
    /// Weighted negative log-likelihood: loss = scale · Σ_r w_r · (−log softmax(logits_r)[target_r]) over the rows whose
    /// target is not <see cref="IgnoreIndex"/>; dlogits_r = scale · w_r · (softmax(logits_r) − onehot(target_r)) (ignored
    /// rows get zero gradient). Writes log softmax(logits_r)[target_r] to <paramref name="logProbs"/> (0 on ignored rows)
    /// and returns the loss; dlogits [rows, vocab] is overwritten. No normalisation: the weights carry it.
    /// </summary>
    public static T WeightedForwardBackward<T>(ReadOnlySpan<T> logits, ReadOnlySpan<int> targets, ReadOnlySpan<T> weights, Span<T> dlogits,
        Span<T> logProbs, int vocab, T scale)
        where T : IFloatingPointIeee754<T>
    {
        var rows = targets.Length;
        if (weights.Length < rows) throw new ArgumentException($"{weights.Length} weights for {rows} rows", nameof(weights));
        LogProbs(logits, targets, logProbs, vocab);
        dlogits[..(rows * vocab)].Clear();
        var loss = T.Zero;
        for (var r = 0; r < rows; r++)
        {
            if (targets[r] == IgnoreIndex || weights[r] == T.Zero) continue;
            var l = logits.Slice(r * vocab, vocab);
            var logZ = l[targets[r]] - logProbs[r];
            var w = scale * weights[r];
            loss -= w * logProbs[r];
            var d = dlogits.Slice(r * vocab, vocab);
            for (var i = 0; i < vocab; i++) d[i] = T.Exp(l[i] - logZ) * w;
            d[targets[r]] -= w;
        }
        return loss;
    }

    /// <summary>Writes log softmax(logits_r)[target_r] per row (0 where the target is <see cref="IgnoreIndex"/>).</summary>
    public static void LogProbs<T>(ReadOnlySpan<T> logits, ReadOnlySpan<int> targets, Span<T> logProbs, int vocab)
        where T : IFloatingPointIeee754<T>
    {
        for (var r = 0; r < targets.Length; r++)
        {
            var target = targets[r];
            if (target == IgnoreIndex) { logProbs[r] = T.Zero; continue; }
            if ((uint)target >= (uint)vocab) throw new ArgumentOutOfRangeException(nameof(targets), $"target {target} outside [0, {vocab})");
            var l = logits.Slice(r * vocab, vocab);
            var max = T.NegativeInfinity;
            foreach (var v in l) max = T.Max(max, v);
            var z = T.Zero;
            foreach (var v in l) z += T.Exp(v - max);
            logProbs[r] = l[target] - (max + T.Log(z));
        }
    }
}
