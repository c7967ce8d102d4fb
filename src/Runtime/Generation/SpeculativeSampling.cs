namespace DeepSeek.Runtime.Generation;

/// <summary>
/// The verification rule of speculative sampling (Leviathan et al. 2023, §2.3; Chen et al. 2023, Alg. 2): a draft token
/// d drawn from the draft distribution q is kept with probability min(1, p(d)/q(d)); otherwise the token is drawn from
/// the residual normalize(max(0, p − q)). Whatever q is, the kept-or-resampled token is distributed exactly as p.
/// Both distributions are dense probability vectors over the vocabulary, already processed (penalties, temperature,
/// top-k/top-p/min-p) exactly as plain sampling would, so the output is distributed as plain sampling's.
/// </summary>
public static class SpeculativeSampling
{
    /// <summary>Whether draft token d is kept: u·q(d) &lt; p(d) ⇔ u &lt; min(1, p(d)/q(d)) for u uniform in [0, 1), and never when p(d) = 0.</summary>
    /// <param name="target">p(d), the main model's probability of the draft.</param>
    /// <param name="draft">q(d), the draft model's probability of it.</param>
    /// <param name="uniform">A uniform draw in [0, 1).</param>
    public static bool Accepts(float target, float draft, double uniform) => uniform * draft < target;

    /// <summary>Σ max(0, p − q): the probability mass the residual distribution is normalised by.</summary>
    public static double ResidualMass(ReadOnlySpan<float> target, ReadOnlySpan<float> draft)
    {
        CheckLengths(target, draft);
        double mass = 0;
        for (var i = 0; i < target.Length; i++)
            if (target[i] > draft[i]) mass += target[i] - draft[i];
        return mass;
    }

    /// <summary>
    /// The token at which the cumulative residual max(0, p − q) passes <paramref name="uniform"/> × its mass. When the
    /// mass is zero (p ≤ q everywhere, i.e. p = q up to rounding, where a rejection can only come from rounding) the
    /// token is drawn from p itself, which is then the right distribution.
    /// </summary>
    public static int SampleResidual(ReadOnlySpan<float> target, ReadOnlySpan<float> draft, double uniform)
    {
        var mass = ResidualMass(target, draft);
        if (!(mass > 0)) return SampleFrom(target, uniform);
        var r = uniform * mass;
        double acc = 0;
        var last = -1;
        for (var i = 0; i < target.Length; i++)
        {
            var w = target[i] - draft[i];
            if (!(w > 0)) continue;
            last = i;
            acc += w;
            if (r < acc) return i;
        }
        // Rounding left r at the very top of the range: the last token with residual mass owns that edge.
        return last;
    }

    /// <summary>The token at which the cumulative sum of <paramref name="probabilities"/> passes <paramref name="uniform"/> × their total.</summary>
    /// <exception cref="InvalidOperationException">No entry is positive.</exception>
    public static int SampleFrom(ReadOnlySpan<float> probabilities, double uniform)
    {
        double total = 0;
        foreach (var p in probabilities)
            if (p > 0) total += p;
        if (!(total > 0)) throw new InvalidOperationException("Cannot sample from a distribution without positive mass.");
        var r = uniform * total;
        double acc = 0;
        var last = -1;
        for (var i = 0; i < probabilities.Length; i++)
        {
            if (!(probabilities[i] > 0)) continue;
            last = i;
            acc += probabilities[i];
            if (r < acc) return i;
        }
        return last;
    }

    /// <summary>
    /// Verifies <paramref name="draftToken"/>: kept when <see cref="Accepts"/> holds for <paramref name="acceptUniform"/>,
    /// else replaced by <see cref="SampleResidual"/> at <paramref name="residualUniform"/>.
    /// </summary>
    /// <param name="target">p: the main model's processed distribution at the draft's position (vocab).</param>
    /// <param name="draft">q: the distribution the draft was drawn from (vocab).</param>
    /// <param name="draftToken">d.</param>
    /// <param name="acceptUniform">Uniform in [0, 1) for the accept test.</param>
    /// <param name="residualUniform">Uniform in [0, 1) for the residual draw (unused when accepted).</param>
    /// <param name="accepted">Whether d was kept.</param>
    /// <returns>The token to emit: d, or the residual draw.</returns>
    public static int Verify(ReadOnlySpan<float> target, ReadOnlySpan<float> draft, int draftToken, double acceptUniform, double residualUniform, out bool accepted)
    {
        CheckLengths(target, draft);
        if ((uint)draftToken >= (uint)target.Length) throw new ArgumentOutOfRangeException(nameof(draftToken), $"draft token {draftToken} outside [0, {target.Length})");
        accepted = Accepts(target[draftToken], draft[draftToken], acceptUniform);
        return accepted ? draftToken : SampleResidual(target, draft, residualUniform);
    }

    private static void CheckLengths(ReadOnlySpan<float> target, ReadOnlySpan<float> draft)
    {
        if (target.Length != draft.Length) throw new ArgumentException($"target has {target.Length} entries, draft {draft.Length}", nameof(draft));
    }
}
