namespace DeepSeek.Runtime.Distributed.Pipeline;

/// <summary>The published bubble formulas (DeepSeek-V3 Table 2) and when the simulated schedules meet them exactly.</summary>
public static class PipelineBubble
{
    /// <summary>1F1B: (PP − 1)(F + B).</summary>
    public static double OneFOneB(int ranks, PipelineCosts costs)
    {
        ArgumentNullException.ThrowIfNull(costs);
        return (ranks - 1) * (costs.Forward + costs.Backward);
    }

    /// <summary>DualPipe: (PP/2 − 1)(F&amp;B + B − 3W).</summary>
    public static double DualPipe(int ranks, PipelineCosts costs)
    {
        ArgumentNullException.ThrowIfNull(costs);
        return (ranks / 2 - 1) * (costs.ForwardBackward + costs.Backward - 3 * costs.Weight);
    }

    /// <summary>The formula of <paramref name="kind"/>.</summary>
    public static double Formula(PipelineScheduleKind kind, int ranks, PipelineCosts costs) =>
        kind == PipelineScheduleKind.DualPipe ? DualPipe(ranks, costs) : OneFOneB(ranks, costs);

    /// <summary>
    /// Whether <see cref="PipelineSimulator"/>'s bubble (the largest idle time of any rank) equals <see cref="Formula"/> exactly.
    /// 1F1B: always, with zero send latency. DualPipe (the shape checks already demand ≥ 2·PP micro-batches): with zero send
    /// latency, an input-only backward as long as a forward (B − W = F), W ≤ F, and B ≤ F&amp;B ≤ F + B (the pair is no faster than
    /// its longer half and no slower than running both). The figure's F = 1, B = 2, W = 1 meets this for any F&amp;B in [2, 3].
    /// Elsewhere the formula is the paper's approximation and the simulated bubble is the one to believe.
    /// </summary>
    public static bool FormulaIsExact(PipelineScheduleKind kind, PipelineCosts costs)
    {
        ArgumentNullException.ThrowIfNull(costs);
        if (costs.SendLatency != 0) return false;
        if (kind == PipelineScheduleKind.OneFOneB) return true;
        return Same(costs.BackwardInput, costs.Forward) && AtMost(costs.Weight, costs.Forward)
            && AtMost(costs.Backward, costs.ForwardBackward) && AtMost(costs.ForwardBackward, costs.Forward + costs.Backward);
    }

    // Costs like B = 0.3, W = 0.1 should count as B − W = F = 0.2 although the doubles differ in the last bit.
    private static bool Same(double a, double b) => Math.Abs(a - b) <= 1e-12 * Math.Max(1, Math.Max(Math.Abs(a), Math.Abs(b)));

    private static bool AtMost(double a, double b) => a <= b || Same(a, b);
}
