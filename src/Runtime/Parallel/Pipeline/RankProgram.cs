namespace DeepSeek.Runtime.Distributed.Pipeline;

/// <summary>
/// Writes one rank's instruction list for the schedule builders. The builders say only "forward the next micro-batch of this
/// direction", "backward the next one", "send what is pending"; this type turns that into numbered micro-batches and puts the
/// receives right before the computation that needs them, so a schedule reads like its published pseudo-code.
/// Per direction, forwards, backwards and sends each take micro-batches in feed order (first in, first out).
/// </summary>
internal sealed class RankProgram
{
    private readonly int _ranks;
    private readonly int _rank;
    private readonly int[][] _microBatches;           // [direction] → micro-batches in feed order
    private readonly int[] _nextForward = new int[2];
    private readonly int[] _nextBackward = new int[2];
    private readonly int[] _nextActivationSend = new int[2];
    private readonly int[] _nextGradientSend = new int[2];
    private readonly Queue<(int MicroBatch, int Direction)> _deferredWeights = new();
    private readonly List<PipelineOp> _ops = [];

    public RankProgram(int ranks, int rank, int[][] microBatchesByDirection)
    {
        _ranks = ranks;
        _rank = rank;
        _microBatches = microBatchesByDirection;
    }

    public IReadOnlyList<PipelineOp> Ops => _ops;

    /// <summary>Deferred weight-gradient work not yet emitted; a finished program has none.</summary>
    public int PendingWeights => _deferredWeights.Count;

    private int StageOf(int direction) => direction == 0 ? _rank : _ranks - 1 - _rank;

    private bool IsFirstStage(int direction) => StageOf(direction) == 0;

    private bool IsLastStage(int direction) => StageOf(direction) == _ranks - 1;

    private int TakeForward(int direction) => _microBatches[direction][_nextForward[direction]++];

    private int TakeBackward(int direction) => _microBatches[direction][_nextBackward[direction]++];

    /// <summary>Forward of the next micro-batch of <paramref name="direction"/>; its output is sent on at once unless <paramref name="send"/> is false.</summary>
    public void Forward(int direction, bool send = true)
    {
        var m = TakeForward(direction);
        if (!IsFirstStage(direction)) _ops.Add(new(PipelineOpKind.RecvActivation, m, direction));
        _ops.Add(new(PipelineOpKind.Forward, m, direction));
        if (send) SendActivation(direction);
    }

    /// <summary>
    /// Backward of the next micro-batch of <paramref name="direction"/>: full, or input-only with the weight part queued for a
    /// later <see cref="Weight"/> when <paramref name="deferWeight"/> (zero-bubble split).
    /// </summary>
    public void Backward(int direction, bool deferWeight = false, bool send = true)
    {
        var m = TakeBackward(direction);
        if (!IsLastStage(direction)) _ops.Add(new(PipelineOpKind.RecvGradient, m, direction));
        if (deferWeight)
        {
            _ops.Add(new(PipelineOpKind.BackwardInput, m, direction));
            _deferredWeights.Enqueue((m, direction));
        }
        else
        {
            _ops.Add(new(PipelineOpKind.Backward, m, direction));
        }
        if (send) SendGradient(direction);
    }

    /// <summary>The overlapped pair: forward of the next micro-batch of one direction with the full backward of the next of the other.</summary>
    public void ForwardBackward(int forwardDirection, int backwardDirection)
    {
        var f = TakeForward(forwardDirection);
        var b = TakeBackward(backwardDirection);
        if (!IsFirstStage(forwardDirection)) _ops.Add(new(PipelineOpKind.RecvActivation, f, forwardDirection));
        if (!IsLastStage(backwardDirection)) _ops.Add(new(PipelineOpKind.RecvGradient, b, backwardDirection));
        _ops.Add(new(PipelineOpKind.ForwardBackward, f, forwardDirection, b, backwardDirection));
        SendActivation(forwardDirection);
        SendGradient(backwardDirection);
    }

    /// <summary>The oldest deferred weight-gradient work.</summary>
    public void Weight()
    {
        if (!_deferredWeights.TryDequeue(out var w))
            throw new InvalidPipelineScheduleException($"rank {_rank}: a weight-gradient step with no deferred backward to finish");
        _ops.Add(new(PipelineOpKind.BackwardWeight, w.MicroBatch, w.Direction));
    }

    /// <summary>Sends the oldest computed, not yet sent activation of <paramref name="direction"/> (nothing on the direction's last stage).</summary>
    public void SendActivation(int direction)
    {
        if (IsLastStage(direction)) return;
        _ops.Add(new(PipelineOpKind.SendActivation, _microBatches[direction][_nextActivationSend[direction]++], direction));
    }

    /// <summary>Sends the oldest computed, not yet sent input gradient of <paramref name="direction"/> (nothing on the direction's first stage).</summary>
    public void SendGradient(int direction)
    {
        if (IsFirstStage(direction)) return;
        _ops.Add(new(PipelineOpKind.SendGradient, _microBatches[direction][_nextGradientSend[direction]++], direction));
    }
}
