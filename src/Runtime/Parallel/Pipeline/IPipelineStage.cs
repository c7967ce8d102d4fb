namespace DeepSeek.Runtime.Distributed.Pipeline;

/// <summary>
/// One stage of a model cut for pipeline parallelism, as <see cref="PipelineExecutor"/> drives it: forward and the two halves
/// of backward (input, then weights — the zero-bubble split) per micro-batch, in float64. A stage keeps whatever its backward
/// needs between the calls, keyed by micro-batch, since several micro-batches are in flight at once.
/// </summary>
public interface IPipelineStage
{
    /// <summary>Elements of one micro-batch's input activation (e.g. rows × width).</summary>
    int InputSize { get; }

    /// <summary>Elements of one micro-batch's output activation.</summary>
    int OutputSize { get; }

    /// <summary>Number of parameters (the length of a gradient).</summary>
    int ParameterCount { get; }

    /// <summary>Forward of <paramref name="microBatch"/>: <paramref name="input"/> (InputSize) → <paramref name="output"/> (OutputSize).</summary>
    void Forward(int microBatch, ReadOnlySpan<double> input, Span<double> output);

    /// <summary>
    /// Backward for the input of <paramref name="microBatch"/>: the loss gradient of the output → the loss gradient of the input.
    /// Keeps what <see cref="BackwardWeight"/> needs.
    /// </summary>
    void BackwardInput(int microBatch, ReadOnlySpan<double> outputGradient, Span<double> inputGradient);

    /// <summary>
    /// Backward for the weights of <paramref name="microBatch"/> (after its <see cref="BackwardInput"/>): adds the micro-batch's
    /// parameter gradient into <paramref name="parameterGradient"/> (ParameterCount) and forgets the micro-batch.
    /// </summary>
    void BackwardWeight(int microBatch, Span<double> parameterGradient);
}

/// <summary>The loss at the end of the pipeline, computed where a micro-batch leaves its last stage.</summary>
public interface IPipelineLoss
{
    /// <summary>
    /// The loss of <paramref name="microBatch"/> from the last stage's <paramref name="output"/>; writes d(loss)/d(output) into
    /// <paramref name="outputGradient"/>. The step's loss is the sum over micro-batches, so scale here (e.g. by 1/micro-batches) for a mean.
    /// </summary>
    double Loss(int microBatch, ReadOnlySpan<double> output, Span<double> outputGradient);
}
