namespace DeepSeek.Runtime.Distributed.Pipeline;

/// <summary>
/// The time each kind of instruction takes in <see cref="PipelineSimulator"/>, in any unit (the notation of DeepSeek-V3 Table 2).
/// </summary>
/// <param name="Forward">F: forward of one micro-batch through one stage.</param>
/// <param name="Backward">B: full backward (input and weight gradients) of one micro-batch through one stage.</param>
/// <param name="Weight">W: the weight-gradient part of B; an input-only backward costs B − W.</param>
/// <param name="ForwardBackward">F&amp;B: one forward and one backward overlapped as a pair; F + B when nothing overlaps.</param>
/// <param name="SendLatency">Time from a send to the data being usable on the neighbouring rank; 0 models fully hidden communication.</param>
public sealed record PipelineCosts(double Forward, double Backward, double Weight, double ForwardBackward, double SendLatency = 0)
{
    /// <summary>F = 1, B = 2, W = 1, F&amp;B = 3: the proportions of DualPipe's published figure, nothing overlapped.</summary>
    public static PipelineCosts Default { get; } = new(1, 2, 1, 3);

    /// <summary>B − W: the input-only backward.</summary>
    public double BackwardInput => Backward - Weight;

    /// <summary>Rejects negative, non-finite or inconsistent costs (W above B).</summary>
    /// <exception cref="PipelineScheduleException">Naming the cost that is wrong.</exception>
    public void Validate()
    {
        Check(Forward, "F (forward)");
        Check(Backward, "B (backward)");
        Check(Weight, "W (weight gradient)");
        Check(ForwardBackward, "F&B (overlapped forward and backward)");
        Check(SendLatency, "send latency");
        if (Weight > Backward)
            throw new PipelineScheduleException($"W (weight gradient, {Weight}) is part of B (full backward, {Backward}) and cannot exceed it");
    }

    private static void Check(double value, string name)
    {
        if (!double.IsFinite(value) || value < 0)
            throw new PipelineScheduleException($"cost {name} must be a finite number >= 0, got {value}");
    }
}
