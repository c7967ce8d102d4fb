namespace DeepSeek.Runtime.Training.Grpo;

/// <summary>One completion token's share of the GRPO loss and its derivative.</summary>
/// <param name="Loss">ℓ = −min(ρ·A, clip(ρ, 1−ε, 1+ε)·A) + β·KL.</param>
/// <param name="Weight">−∂ℓ/∂log π: A·ρ where the ratio is not clipped (0 where it is), minus β·(1 − π_ref/π).</param>
/// <param name="Ratio">ρ = π/π_old.</param>
/// <param name="Kl">k3 estimate π_ref/π − log(π_ref/π) − 1 (≥ 0).</param>
/// <param name="Clipped">Whether the clip is active (A &gt; 0 and ρ &gt; 1+ε, or A &lt; 0 and ρ &lt; 1−ε): no policy gradient then.</param>
public readonly record struct GrpoTokenTerm(double Loss, double Weight, double Ratio, double Kl, bool Clipped);

/// <summary>The arithmetic of GRPO: group-normalised advantages and the per-token clipped surrogate with the k3 KL.</summary>
public static class GrpoMath
{
    /// <summary>Added to the group's standard deviation.</summary>
    public const double StdEpsilon = 1e-4;

    /// <summary>
    /// Aᵢ = (rᵢ − mean r)/(std r + 1e-4) with the population standard deviation; all zero when every reward is equal
    /// (such a group carries no signal).
    /// </summary>
    public static double[] Advantages(IReadOnlyList<double> rewards)
    {
        ArgumentNullException.ThrowIfNull(rewards);
        if (rewards.Count == 0) return [];
        if (rewards.All(r => r == rewards[0])) return new double[rewards.Count];
        var mean = rewards.Average();
        var std = Math.Sqrt(rewards.Sum(r => (r - mean) * (r - mean)) / rewards.Count);
        return rewards.Select(r => (r - mean) / (std + StdEpsilon)).ToArray();
    }

    /// <summary>
    /// The loss of one completion token and −∂loss/∂log π, from the current, sampling (old) and reference
    /// log-probabilities of the token.
    /// </summary>
    public static GrpoTokenTerm Token(double logProb, double oldLogProb, double refLogProb, double advantage, double epsilon, double beta)
    {
        var ratio = Math.Exp(logProb - oldLogProb);
        var clippedRatio = Math.Clamp(ratio, 1 - epsilon, 1 + epsilon);
        var clipped = (advantage > 0 && ratio > 1 + epsilon) || (advantage < 0 && ratio < 1 - epsilon);
        var surrogate = Math.Min(ratio * advantage, clippedRatio * advantage);
        double kl = 0, dKl = 0;
        if (beta != 0)
        {
            var r = Math.Exp(refLogProb - logProb);                 // π_ref/π
            kl = r - (refLogProb - logProb) - 1;
            dKl = 1 - r;                                            // ∂KL/∂log π
        }
        var weight = (clipped ? 0 : advantage * ratio) - beta * dKl;
        return new GrpoTokenTerm(-surrogate + beta * kl, weight, ratio, kl, clipped);
    }
}
