namespace DeepSeek.Runtime.Distributed.Pipeline;

/// <summary>What one instruction of a pipeline schedule does on its rank.</summary>
public enum PipelineOpKind
{
    /// <summary>Wait for the activation of a micro-batch from the previous stage (the stage before this one in the op's direction).</summary>
    RecvActivation,

    /// <summary>Wait for the gradient of this stage's output from the next stage.</summary>
    RecvGradient,

    /// <summary>Forward of one micro-batch through this rank's stage of the op's direction (cost F).</summary>
    Forward,

    /// <summary>Full backward: input gradient and weight gradient together (cost B).</summary>
    Backward,

    /// <summary>Backward for the input only (cost B − W); the weight gradient is deferred to a later <see cref="BackwardWeight"/> (zero-bubble split).</summary>
    BackwardInput,

    /// <summary>The deferred backward for the weights of a micro-batch whose <see cref="BackwardInput"/> ran earlier (cost W).</summary>
    BackwardWeight,

    /// <summary>
    /// A forward of one micro-batch and the full backward of another (of the other direction) run as one overlapped pair
    /// (cost F&amp;B): the communication of each hides behind the computation of the other (DeepSeek-V3 §3.2.1).
    /// </summary>
    ForwardBackward,

    /// <summary>Send this stage's output activation of a micro-batch to the next stage.</summary>
    SendActivation,

    /// <summary>Send the gradient of this stage's input to the previous stage.</summary>
    SendGradient,
}

/// <summary>
/// One instruction of a rank's schedule. Micro-batch ids are global (0 … chunks − 1), so a micro-batch also names its direction;
/// <see cref="Direction"/> repeats it for readability. For <see cref="PipelineOpKind.ForwardBackward"/> the forward half is
/// (<see cref="MicroBatch"/>, <see cref="Direction"/>) and the backward half (<see cref="SecondMicroBatch"/>, <see cref="SecondDirection"/>).
/// </summary>
/// <param name="Kind">What the instruction does.</param>
/// <param name="MicroBatch">The micro-batch (for a pair: the one going forward).</param>
/// <param name="Direction">0: fed in at rank 0 and flowing to the last rank; 1 (DualPipe only): fed in at the last rank and flowing to rank 0.</param>
/// <param name="SecondMicroBatch">For a pair: the micro-batch going backward; otherwise −1.</param>
/// <param name="SecondDirection">For a pair: the direction of the micro-batch going backward; otherwise −1.</param>
public readonly record struct PipelineOp(PipelineOpKind Kind, int MicroBatch, int Direction, int SecondMicroBatch = -1, int SecondDirection = -1)
{
    /// <summary>True for the instructions that compute (everything but send and receive).</summary>
    public bool IsCompute => Kind is PipelineOpKind.Forward or PipelineOpKind.Backward or PipelineOpKind.BackwardInput
        or PipelineOpKind.BackwardWeight or PipelineOpKind.ForwardBackward;

    /// <summary>A short label: <c>F3</c>, <c>B3</c>, <c>b3</c> (input only), <c>W3</c>, <c>F3+B7</c>, <c>send-act 3</c>, …</summary>
    public override string ToString() => Kind switch
    {
        PipelineOpKind.Forward => $"F{MicroBatch}",
        PipelineOpKind.Backward => $"B{MicroBatch}",
        PipelineOpKind.BackwardInput => $"b{MicroBatch}",
        PipelineOpKind.BackwardWeight => $"W{MicroBatch}",
        PipelineOpKind.ForwardBackward => $"F{MicroBatch}+B{SecondMicroBatch}",
        PipelineOpKind.RecvActivation => $"recv-act {MicroBatch}",
        PipelineOpKind.RecvGradient => $"recv-grad {MicroBatch}",
        PipelineOpKind.SendActivation => $"send-act {MicroBatch}",
        PipelineOpKind.SendGradient => $"send-grad {MicroBatch}",
        _ => Kind.ToString(),
    };
}
