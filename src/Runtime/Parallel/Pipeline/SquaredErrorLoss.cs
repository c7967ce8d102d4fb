namespace DeepSeek.Runtime.Distributed.Pipeline;

/// <summary>
/// ½·Σ(y − t)² per micro-batch, divided by the number of micro-batches so the step's loss (their sum) is the mean over
/// micro-batches. Used by the pipeline equality tests, the MPI scenario and the benchmark.
/// </summary>
public sealed class SquaredErrorLoss : IPipelineLoss
{
    private readonly IReadOnlyList<double[]> _targets;

    /// <summary>Targets per micro-batch, each as long as the last stage's output.</summary>
    public SquaredErrorLoss(IReadOnlyList<double[]> targets)
    {
        ArgumentNullException.ThrowIfNull(targets);
        _targets = targets;
    }

    /// <inheritdoc/>
    public double Loss(int microBatch, ReadOnlySpan<double> output, Span<double> outputGradient)
    {
        var t = _targets[microBatch];
        if (t.Length != output.Length || outputGradient.Length != output.Length)
            throw new ArgumentException($"micro-batch {microBatch}: {output.Length} outputs, {t.Length} targets, {outputGradient.Length} gradient slots");
        var scale = 1.0 / _targets.Count;
        var loss = 0.0;
        for (var i = 0; i < output.Length; i++)
        {
            var d = output[i] - t[i];
            loss += 0.5 * d * d;
            outputGradient[i] = d * scale;
        }
        return loss * scale;
    }
}
