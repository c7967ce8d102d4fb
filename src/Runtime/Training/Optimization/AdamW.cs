namespace DeepSeek.Runtime.Training.Optimization;

/// <summary>Hyper-parameters of <see cref="AdamW"/> (PyTorch's defaults except weight decay, which DeepSeek set to 0.1).</summary>
public sealed record AdamWOptions
{
    /// <summary>β₁: decay of the first moment.</summary>
    public double Beta1 { get; init; } = 0.9;

    /// <summary>β₂: decay of the second moment (DeepSeek-V3 pre-training used 0.95).</summary>
    public double Beta2 { get; init; } = 0.95;

    /// <summary>ε added to √v̂.</summary>
    public double Epsilon { get; init; } = 1e-8;

    /// <summary>Decoupled weight decay λ: p ← p·(1 − lr·λ) before the Adam update.</summary>
    public double WeightDecay { get; init; } = 0.1;

    /// <summary>Throws when a value is out of range.</summary>
    public void Validate()
    {
        if (Beta1 is < 0 or >= 1) throw new ArgumentOutOfRangeException(nameof(Beta1), Beta1, "β₁ must be in [0, 1)");
        if (Beta2 is < 0 or >= 1) throw new ArgumentOutOfRangeException(nameof(Beta2), Beta2, "β₂ must be in [0, 1)");
        if (!(Epsilon > 0)) throw new ArgumentOutOfRangeException(nameof(Epsilon), Epsilon, "ε must be positive");
        if (!(WeightDecay >= 0)) throw new ArgumentOutOfRangeException(nameof(WeightDecay), WeightDecay, "weight decay must be ≥ 0");
    }
}

/// <summary>
/// AdamW (Loshchilov &amp; Hutter), as <c>torch.optim.AdamW</c> computes it: decoupled decay, then
/// m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g², p ← p − lr·(m/(1−β₁ᵗ)) / (√(v/(1−β₂ᵗ)) + ε).
/// Moments are fp32 per parameter; the caller owns them (they are part of a training checkpoint).
/// </summary>
public static class AdamW
{
    /// <summary>One update of <paramref name="parameters"/> at step <paramref name="step"/> (1-based).</summary>
    public static void Step(Span<float> parameters, ReadOnlySpan<float> gradients, Span<float> m, Span<float> v, long step, double learningRate, AdamWOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfLessThan(step, 1);
        if (gradients.Length != parameters.Length || m.Length != parameters.Length || v.Length != parameters.Length)
            throw new ArgumentException($"AdamW buffers differ in length: p {parameters.Length}, g {gradients.Length}, m {m.Length}, v {v.Length}");
        double b1 = options.Beta1, b2 = options.Beta2;
        var correction1 = 1 - Math.Pow(b1, step);
        var correction2Sqrt = Math.Sqrt(1 - Math.Pow(b2, step));
        var decay = (float)(1 - learningRate * options.WeightDecay);
        var stepSize = (float)(learningRate / correction1);
        float fb1 = (float)b1, fb2 = (float)b2, eps = (float)options.Epsilon, c2 = (float)correction2Sqrt;
        for (var i = 0; i < parameters.Length; i++)
        {
            var g = gradients[i];
            parameters[i] *= decay;
            m[i] = fb1 * m[i] + (1 - fb1) * g;
            v[i] = fb2 * v[i] + (1 - fb2) * g * g;
            parameters[i] -= stepSize * m[i] / (MathF.Sqrt(v[i]) / c2 + eps);
        }
    }
}
