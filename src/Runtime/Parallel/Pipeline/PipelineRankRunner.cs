namespace DeepSeek.Runtime.Distributed.Pipeline;

/// <summary>One rank's state while <see cref="PipelineExecutor"/> runs a step: what arrived, what waits to be sent, per-micro-batch gradients.</summary>
internal sealed class PipelineRankRunner
{
    private readonly ICommunicator _comm;
    private readonly PipelineSchedule _schedule;
    private readonly IReadOnlyList<IPipelineStage> _stages;
    private readonly IReadOnlyList<double[]> _inputs;
    private readonly IPipelineLoss _loss;
    private readonly PipelineExecutorOptions _options;
    private readonly CancellationToken _ct;
    private readonly int _rank;

    private readonly Dictionary<int, double[]> _receivedActivations = [];   // micro-batch → (InputSize)
    private readonly Dictionary<int, double[]> _outputs = [];               // micro-batch → (OutputSize), until sent
    private readonly Dictionary<int, double[]> _outputGradients = [];       // micro-batch → (OutputSize): received, or the loss gradient
    private readonly Dictionary<int, double[]> _inputGradients = [];        // micro-batch → (InputSize), until sent
    private readonly double[]?[] _microBatchGradients;                      // micro-batch → (ParameterCount of its stage)
    private readonly double[] _losses;                                      // micro-batch → loss, where this rank computed it

    public PipelineRankRunner(ICommunicator comm, PipelineSchedule schedule, IReadOnlyList<IPipelineStage> stages, IReadOnlyList<double[]> inputs,
        IPipelineLoss loss, PipelineExecutorOptions options, CancellationToken ct)
    {
        _comm = comm;
        _schedule = schedule;
        _stages = stages;
        _inputs = inputs;
        _loss = loss;
        _options = options;
        _ct = ct;
        _rank = comm.Rank;
        _microBatchGradients = new double[]?[schedule.MicroBatches];
        _losses = new double[schedule.MicroBatches];
    }

    // Point-to-point tags: activation 2m, gradient 2m + 1, a stage's per-micro-batch gradients (DualPipe swap) 2C + direction.
    private static int ActivationTag(int m) => 2 * m;

    private static int GradientTag(int m) => 2 * m + 1;

    private int SwapTag(int direction) => 2 * _schedule.MicroBatches + direction;

    private int Stage(int direction) => _schedule.StageOf(_rank, direction);

    public void Execute(PipelineOp op)
    {
        _ct.ThrowIfCancellationRequested();
        switch (op.Kind)
        {
            case PipelineOpKind.RecvActivation:
                _receivedActivations[op.MicroBatch] = Receive(_stages[op.Direction].InputSize,
                    _schedule.RankOf(Stage(op.Direction) - 1, op.Direction), ActivationTag(op.MicroBatch), "activation", op.MicroBatch);
                break;
            case PipelineOpKind.RecvGradient:
                _outputGradients[op.MicroBatch] = Receive(_stages[op.Direction].OutputSize,
                    _schedule.RankOf(Stage(op.Direction) + 1, op.Direction), GradientTag(op.MicroBatch), "output gradient", op.MicroBatch);
                break;
            case PipelineOpKind.SendActivation:
                _comm.Send<double>(Take(_outputs, op.MicroBatch, "output"), _schedule.RankOf(Stage(op.Direction) + 1, op.Direction), ActivationTag(op.MicroBatch), _ct);
                break;
            case PipelineOpKind.SendGradient:
                _comm.Send<double>(Take(_inputGradients, op.MicroBatch, "input gradient"), _schedule.RankOf(Stage(op.Direction) - 1, op.Direction), GradientTag(op.MicroBatch), _ct);
                break;
            case PipelineOpKind.Forward:
                Forward(op.MicroBatch, op.Direction);
                break;
            case PipelineOpKind.Backward:
                BackwardInput(op.MicroBatch, op.Direction);
                BackwardWeight(op.MicroBatch, op.Direction);
                break;
            case PipelineOpKind.BackwardInput:
                BackwardInput(op.MicroBatch, op.Direction);
                break;
            case PipelineOpKind.BackwardWeight:
                BackwardWeight(op.MicroBatch, op.Direction);
                break;
            case PipelineOpKind.ForwardBackward:
                if (_options.OverlapForwardBackward && op.Direction != op.SecondDirection)
                {
                    // Different directions are different stage objects, so the halves share no state. A dedicated thread, not the
                    // pool: every rank does this at once, and a starved pool would serialise the halves again.
                    var forward = Task.Factory.StartNew(() => Forward(op.MicroBatch, op.Direction), _ct, TaskCreationOptions.LongRunning, TaskScheduler.Default);
                    try
                    {
                        BackwardInput(op.SecondMicroBatch, op.SecondDirection);
                        BackwardWeight(op.SecondMicroBatch, op.SecondDirection);
                    }
                    finally
                    {
                        // Never leave the forward half running behind a failed backward; its own failure surfaces when the backward's did not.
                        ((IAsyncResult)forward).AsyncWaitHandle.WaitOne();
                    }
                    forward.GetAwaiter().GetResult();
                }
                else
                {
                    Forward(op.MicroBatch, op.Direction);
                    BackwardInput(op.SecondMicroBatch, op.SecondDirection);
                    BackwardWeight(op.SecondMicroBatch, op.SecondDirection);
                }
                break;
            default:
                throw new InvalidPipelineScheduleException($"rank {_rank}: unknown instruction {op}");
        }
    }

    private void Forward(int m, int direction)
    {
        var stage = _stages[direction];
        double[] input;
        if (Stage(direction) == 0)
        {
            input = _inputs[m] ?? throw new ArgumentException($"micro-batch {m} has no input");
            if (input.Length != stage.InputSize)
                throw new ArgumentException($"micro-batch {m}'s input has {input.Length} values; the first stage takes {stage.InputSize}");
        }
        else
        {
            input = Take(_receivedActivations, m, "received activation");
        }
        var output = new double[stage.OutputSize];
        stage.Forward(m, input, output);
        if (Stage(direction) == _schedule.Ranks - 1)
        {
            // The micro-batch leaves the pipeline here: its loss gradient is this stage's output gradient.
            var gradient = new double[output.Length];
            double value = _loss.Loss(m, output, gradient);
            lock (_losses) _losses[m] = value;
            lock (_outputGradients) _outputGradients[m] = gradient;
        }
        else
        {
            lock (_outputs) _outputs[m] = output;
        }
    }

    private void BackwardInput(int m, int direction)
    {
        var stage = _stages[direction];
        var inputGradient = new double[stage.InputSize];
        stage.BackwardInput(m, Take(_outputGradients, m, "output gradient"), inputGradient);
        if (Stage(direction) > 0)
            lock (_inputGradients) _inputGradients[m] = inputGradient;
    }

    private void BackwardWeight(int m, int direction)
    {
        var gradient = new double[_stages[direction].ParameterCount];
        _stages[direction].BackwardWeight(m, gradient);
        _microBatchGradients[m] = gradient;
    }

    private double[] Receive(int length, int source, int tag, string what, int m)
    {
        var buffer = new double[length];
        var count = _comm.Receive<double>(buffer, source, tag, _ct);
        if (count != length)
            throw new InvalidOperationException($"rank {_rank}: the {what} of micro-batch {m} from rank {source} has {count} values, this stage expects {length}");
        return buffer;
    }

    private T Take<T>(Dictionary<int, T> from, int m, string what)
    {
        lock (from)
        {
            if (!from.Remove(m, out var value))
                throw new InvalidPipelineScheduleException($"rank {_rank}: the {what} of micro-batch {m} is not there when the schedule needs it");
            return value;
        }
    }

    /// <summary>After the last instruction: swap per-micro-batch gradients with the other copy of each stage (DualPipe), sum them in micro-batch order, share the losses.</summary>
    public PipelineStepResult Finish()
    {
        var c = _schedule.MicroBatches;
        var directions = _schedule.Directions;
        // byStage[d][m]: micro-batch m's gradient of this rank's stage for direction d, from whichever copy computed it.
        var byStage = new double[]?[directions][];
        for (var d = 0; d < directions; d++)
        {
            byStage[d] = new double[]?[c];
            foreach (var m in _schedule.MicroBatchesOf(d))
                byStage[d][m] = _microBatchGradients[m] ?? throw new InvalidOperationException($"rank {_rank}: micro-batch {m} never reached its weight step");
        }
        if (directions == 2)
        {
            // Rank PP − 1 − r runs this rank's direction-d stage as its direction-(1 − d) stage.
            var partner = _schedule.Ranks - 1 - _rank;
            for (var d = 0; d < 2; d++)
            {
                var own = _schedule.MicroBatchesOf(d).ToArray();
                var size = _stages[d].ParameterCount;
                var packed = new double[own.Length * size];
                for (var i = 0; i < own.Length; i++) byStage[d][own[i]]!.CopyTo(packed, i * size);
                _comm.Send<double>(packed, partner, SwapTag(d), _ct);
            }
            for (var d = 0; d < 2; d++)
            {
                var theirs = _schedule.MicroBatchesOf(1 - d).ToArray();
                var size = _stages[d].ParameterCount;
                var packed = new double[theirs.Length * size];
                var count = _comm.Receive<double>(packed, partner, SwapTag(1 - d), _ct);
                if (count != packed.Length)
                    throw new InvalidOperationException($"rank {_rank}: the copy of stage {Stage(d)} on rank {partner} sent {count} gradient values, expected {packed.Length}");
                for (var i = 0; i < theirs.Length; i++) byStage[d][theirs[i]] = packed.AsSpan(i * size, size).ToArray();
            }
        }

        var gradients = new double[directions][];
        for (var d = 0; d < directions; d++)
        {
            var sum = new double[_stages[d].ParameterCount];
            for (var m = 0; m < c; m++)
            {
                var g = byStage[d][m]!;
                for (var i = 0; i < sum.Length; i++) sum[i] += g[i];
            }
            gradients[d] = sum;
        }

        // Exactly one rank computed each micro-batch's loss; the others contribute 0, and x + 0 = x in any order.
        var losses = (double[])_losses.Clone();
        _comm.AllReduce<double>(losses, ReduceOp.Sum, _ct);
        var total = 0.0;
        foreach (var l in losses) total += l;
        return new PipelineStepResult(total, losses, gradients);
    }
}
