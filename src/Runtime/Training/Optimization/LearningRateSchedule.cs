namespace DeepSeek.Runtime.Training.Optimization;

/// <summary>
/// Linear warm-up from 0 to <see cref="Peak"/> over <see cref="WarmupSteps"/>, then cosine decay to
/// <see cref="Minimum"/> at <see cref="TotalSteps"/> (held there after).
/// </summary>
/// <param name="Peak">Learning rate after warm-up.</param>
/// <param name="WarmupSteps">Steps of linear warm-up (0 for none).</param>
/// <param name="TotalSteps">Step at which the cosine reaches <paramref name="Minimum"/>.</param>
/// <param name="Minimum">Final learning rate.</param>
public sealed record LearningRateSchedule(double Peak, int WarmupSteps, int TotalSteps, double Minimum = 0)
{
    /// <summary>The learning rate for 1-based <paramref name="step"/>.</summary>
    public double At(long step)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(step, 1);
        if (step <= WarmupSteps) return Peak * step / WarmupSteps;
        if (step >= TotalSteps || TotalSteps <= WarmupSteps) return TotalSteps <= WarmupSteps ? Peak : Minimum;
        var progress = (double)(step - WarmupSteps) / (TotalSteps - WarmupSteps);
        return Minimum + (Peak - Minimum) * 0.5 * (1 + Math.Cos(Math.PI * progress));
    }
}
