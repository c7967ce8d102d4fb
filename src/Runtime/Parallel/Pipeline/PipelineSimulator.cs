namespace DeepSeek.Runtime.Distributed.Pipeline;

/// <summary>
/// Plays a schedule on a model of the machine: each rank runs its instructions in order, one at a time; a computing instruction
/// starts when the rank is free and the data it needs has arrived, and lasts its <see cref="PipelineCosts"/> cost; a send never
/// waits (buffered) and its data arrives <see cref="PipelineCosts.SendLatency"/> after the send; a receive waits for that arrival.
/// A schedule that stops with ranks waiting on each other is reported as a deadlock.
/// </summary>
public static class PipelineSimulator
{
    /// <summary>Simulates one step of <paramref name="schedule"/> under <paramref name="costs"/>.</summary>
    /// <exception cref="PipelineScheduleException">Invalid costs.</exception>
    /// <exception cref="InvalidPipelineScheduleException">The ranks deadlock; the message names what each stuck rank waits for.</exception>
    public static PipelineTimeline Simulate(PipelineSchedule schedule, PipelineCosts costs)
    {
        ArgumentNullException.ThrowIfNull(schedule);
        ArgumentNullException.ThrowIfNull(costs);
        costs.Validate();
        var ranks = schedule.Ranks;
        // (receiving rank, kind, micro-batch) → when the data is usable there.
        var arrivals = new Dictionary<(int Rank, PipelineOpKind Kind, int MicroBatch), double>();
        var next = new int[ranks];
        var clock = new double[ranks];
        var busy = new double[ranks];
        var timed = Enumerable.Range(0, ranks).Select(_ => new List<TimedPipelineOp>()).ToArray();

        while (true)
        {
            var progressed = false;
            var finished = true;
            for (var r = 0; r < ranks; r++)
            {
                var ops = schedule.OpsOf(r);
                while (next[r] < ops.Count)
                {
                    var op = ops[next[r]];
                    switch (op.Kind)
                    {
                        case PipelineOpKind.RecvActivation:
                        case PipelineOpKind.RecvGradient:
                            if (!arrivals.TryGetValue((r, op.Kind, op.MicroBatch), out var at)) goto blocked;
                            clock[r] = Math.Max(clock[r], at);
                            break;
                        case PipelineOpKind.SendActivation:
                        case PipelineOpKind.SendGradient:
                            var (to, kind) = Destination(schedule, r, op);
                            arrivals[(to, kind, op.MicroBatch)] = clock[r] + costs.SendLatency;
                            break;
                        default:
                            var cost = CostOf(op.Kind, costs);
                            timed[r].Add(new TimedPipelineOp(op, clock[r], clock[r] + cost));
                            clock[r] += cost;
                            busy[r] += cost;
                            break;
                    }
                    next[r]++;
                    progressed = true;
                }
                continue;
            blocked:
                finished = false;
            }
            if (finished) break;
            if (!progressed) throw Deadlock(schedule, next);
        }

        var makespan = clock.Length == 0 ? 0 : clock.Max();
        var timelines = Enumerable.Range(0, ranks).Select(r => new RankTimeline(r, timed[r], busy[r], makespan - busy[r])).ToArray();
        return new PipelineTimeline(schedule, costs, timelines, makespan);
    }

    /// <summary>The rank a send goes to and the receive kind that takes it there.</summary>
    internal static (int Rank, PipelineOpKind Kind) Destination(PipelineSchedule schedule, int rank, PipelineOp send)
    {
        var stage = schedule.StageOf(rank, send.Direction);
        return send.Kind == PipelineOpKind.SendActivation
            ? (schedule.RankOf(stage + 1, send.Direction), PipelineOpKind.RecvActivation)
            : (schedule.RankOf(stage - 1, send.Direction), PipelineOpKind.RecvGradient);
    }

    /// <summary>The cost of a computing instruction.</summary>
    public static double CostOf(PipelineOpKind kind, PipelineCosts costs)
    {
        ArgumentNullException.ThrowIfNull(costs);
        return kind switch
        {
            PipelineOpKind.Forward => costs.Forward,
            PipelineOpKind.Backward => costs.Backward,
            PipelineOpKind.BackwardInput => costs.BackwardInput,
            PipelineOpKind.BackwardWeight => costs.Weight,
            PipelineOpKind.ForwardBackward => costs.ForwardBackward,
            _ => 0,
        };
    }

    private static InvalidPipelineScheduleException Deadlock(PipelineSchedule schedule, int[] next)
    {
        var stuck = Enumerable.Range(0, schedule.Ranks)
            .Where(r => next[r] < schedule.OpsOf(r).Count)
            .Select(r => $"rank {r} at instruction {next[r]} ({schedule.OpsOf(r)[next[r]]})");
        return new InvalidPipelineScheduleException($"the schedule deadlocks: {string.Join("; ", stuck)} wait(s) for data that is never sent first");
    }
}
