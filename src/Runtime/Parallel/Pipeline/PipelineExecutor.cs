namespace DeepSeek.Runtime.Distributed.Pipeline;

/// <summary>
/// Runs one training step of a <see cref="PipelineSchedule"/> on this rank over an <see cref="ICommunicator"/> (the pipeline
/// group): it walks the rank's instruction list, moving activations forward and gradients backward between neighbouring stages
/// with tagged <see cref="ICommunicator.Send{T}"/>/<see cref="ICommunicator.Receive{T}"/>, and returns the loss and the stage
/// gradients.
/// </summary>
/// <remarks>
/// Exactness: every micro-batch's gradient is computed into its own zeroed buffer and the step's gradient is their sum in
/// micro-batch order, 0 + g₀ + g₁ + … — the order a sequential loop over the same micro-batches uses — so the result is
/// bit-identical to sequential execution whatever order the schedule runs the micro-batches in. Under DualPipe the two copies
/// of a stage (ranks s and PP − 1 − s) swap their per-micro-batch gradients and both sum all of them in that order. The price is
/// one gradient buffer per micro-batch in flight on the rank.
/// </remarks>
public static class PipelineExecutor
{
    /// <summary>Runs this rank's part of one step.</summary>
    /// <param name="communicator">The pipeline group: Size = schedule ranks; this rank runs <c>schedule.OpsOf(communicator.Rank)</c>.</param>
    /// <param name="schedule">The schedule every rank of the group runs.</param>
    /// <param name="stages">This rank's stage for each direction: <c>stages[d]</c> is model stage <c>schedule.StageOf(rank, d)</c>.</param>
    /// <param name="inputs">The input of every micro-batch (read on the ranks that hold a first stage).</param>
    /// <param name="loss">The loss (called on the ranks that hold a last stage).</param>
    /// <param name="options">Execution options.</param>
    /// <param name="cancellationToken">Cancels the step (and, through the communicator, the group's step).</param>
    /// <exception cref="ArgumentException">The group size, stage count or micro-batch count does not match the schedule.</exception>
    /// <exception cref="CommunicatorException">A neighbour failed or the transport did.</exception>
    public static PipelineStepResult Run(ICommunicator communicator, PipelineSchedule schedule, IReadOnlyList<IPipelineStage> stages,
        IReadOnlyList<double[]> inputs, IPipelineLoss loss, PipelineExecutorOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(communicator);
        ArgumentNullException.ThrowIfNull(schedule);
        ArgumentNullException.ThrowIfNull(stages);
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(loss);
        if (communicator.Size != schedule.Ranks)
            throw new ArgumentException($"the communicator has {communicator.Size} ranks but the schedule was built for {schedule.Ranks}; pass the pipeline group", nameof(communicator));
        if (stages.Count != schedule.Directions)
            throw new ArgumentException($"{schedule.Kind} runs {schedule.Directions} stage(s) per rank (one per direction), got {stages.Count}", nameof(stages));
        if (inputs.Count != schedule.MicroBatches)
            throw new ArgumentException($"the schedule has {schedule.MicroBatches} micro-batches, got {inputs.Count} inputs", nameof(inputs));

        var runner = new PipelineRankRunner(communicator, schedule, stages, inputs, loss, options ?? new PipelineExecutorOptions(), cancellationToken);
        try
        {
            foreach (var op in schedule.OpsOf(communicator.Rank))
                runner.Execute(op);
            return runner.Finish();
        }
        catch (Exception e) when (e is not (CommunicatorException or OperationCanceledException))
        {
            // The neighbours would wait for this rank's sends forever; end the group's step with the reason instead.
            communicator.Abort($"pipeline rank {communicator.Rank}: {e.GetType().Name}: {e.Message}");
            throw;
        }
    }
}
