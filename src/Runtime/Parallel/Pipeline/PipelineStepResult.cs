namespace DeepSeek.Runtime.Distributed.Pipeline;

/// <summary>What one rank gets back from <see cref="PipelineExecutor.Run"/>.</summary>
/// <param name="Loss">The step's loss: the micro-batch losses summed in micro-batch order (the same on every rank).</param>
/// <param name="MicroBatchLosses">Each micro-batch's loss, indexed by micro-batch (the same on every rank).</param>
/// <param name="Gradients">
/// Per direction, the gradient of this rank's stage for that direction (<see cref="PipelineSchedule.StageOf"/>) over all
/// micro-batches: each micro-batch's gradient computed on its own, then summed in micro-batch order. Under DualPipe both copies
/// of a stage (on ranks s and PP − 1 − s) hold the bit-identical sum.
/// </param>
public sealed record PipelineStepResult(double Loss, IReadOnlyList<double> MicroBatchLosses, IReadOnlyList<double[]> Gradients);

/// <summary>Options of <see cref="PipelineExecutor.Run"/>.</summary>
public sealed class PipelineExecutorOptions
{
    /// <summary>
    /// Run the two halves of a forward-backward pair concurrently (the forward on a thread of its own): they touch different stages,
    /// so this is safe, and on a machine with a spare core it models F&amp;B &lt; F + B. Off by default: one thread per rank.
    /// </summary>
    public bool OverlapForwardBackward { get; init; }
}
