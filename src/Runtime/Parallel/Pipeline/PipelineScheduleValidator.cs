namespace DeepSeek.Runtime.Distributed.Pipeline;

/// <summary>
/// Checks a schedule is complete and runnable. On every rank and for each of its stages: every micro-batch of the stage's
/// direction goes forward exactly once and backward exactly once (full, or input-only followed later by exactly one weight
/// step); a stage that is not the first receives the activation before the forward and sends the input gradient after the
/// backward; a stage that is not the last sends the activation after the forward and receives the output gradient before the
/// backward; nothing else is sent or received. Since every send then has exactly one receive on the neighbour and vice versa,
/// the last rule is deadlock freedom, which a simulation with unit costs decides.
/// </summary>
public static class PipelineScheduleValidator
{
    private sealed class Seen
    {
        public int RecvActivation = -1, Forward = -1, SendActivation = -1, RecvGradient = -1, BackwardInput = -1, Weight = -1, SendGradient = -1;
        public bool FullBackward;
    }

    /// <summary>Throws unless <paramref name="schedule"/> obeys every rule above.</summary>
    /// <exception cref="InvalidPipelineScheduleException">Naming rank, instruction index, micro-batch and the rule broken.</exception>
    public static void Validate(PipelineSchedule schedule)
    {
        ArgumentNullException.ThrowIfNull(schedule);
        for (var rank = 0; rank < schedule.Ranks; rank++)
            ValidateRank(schedule, rank);
        PipelineSimulator.Simulate(schedule, new PipelineCosts(1, 1, 0, 1));
    }

    private static void ValidateRank(PipelineSchedule schedule, int rank)
    {
        var seen = new Seen[schedule.MicroBatches];
        var ops = schedule.OpsOf(rank);
        for (var i = 0; i < ops.Count; i++)
        {
            var op = ops[i];
            Check(op.MicroBatch, op.Direction, "");
            if (op.Kind == PipelineOpKind.ForwardBackward) Check(op.SecondMicroBatch, op.SecondDirection, "backward half: ");
            else if (op.SecondMicroBatch != -1 || op.SecondDirection != -1) Fail("only a forward-backward pair names a second micro-batch");

            switch (op.Kind)
            {
                case PipelineOpKind.RecvActivation:
                    Require(!IsFirst(op.Direction), "the first stage of a direction receives no activation");
                    Once(ref Get(op.MicroBatch).RecvActivation, "activation received");
                    Require(Get(op.MicroBatch).Forward < 0, "activation received after the forward that needs it");
                    break;
                case PipelineOpKind.Forward:
                    Forward(op.MicroBatch, op.Direction);
                    break;
                case PipelineOpKind.SendActivation:
                    Require(!IsLast(op.Direction), "the last stage of a direction sends no activation");
                    Require(Get(op.MicroBatch).Forward >= 0, "activation sent before its forward");
                    Once(ref Get(op.MicroBatch).SendActivation, "activation sent");
                    break;
                case PipelineOpKind.RecvGradient:
                    Require(!IsLast(op.Direction), "the last stage of a direction receives no gradient (it computes the loss)");
                    Once(ref Get(op.MicroBatch).RecvGradient, "gradient received");
                    Require(Get(op.MicroBatch).BackwardInput < 0, "gradient received after the backward that needs it");
                    break;
                case PipelineOpKind.Backward:
                case PipelineOpKind.BackwardInput:
                    Backward(op.MicroBatch, op.Direction, full: op.Kind == PipelineOpKind.Backward);
                    break;
                case PipelineOpKind.ForwardBackward:
                    Forward(op.MicroBatch, op.Direction);
                    Backward(op.SecondMicroBatch, op.SecondDirection, full: true);
                    break;
                case PipelineOpKind.BackwardWeight:
                    Require(Get(op.MicroBatch).BackwardInput >= 0 && !Get(op.MicroBatch).FullBackward, "weight step without an earlier input-only backward");
                    Once(ref Get(op.MicroBatch).Weight, "weight step");
                    break;
                case PipelineOpKind.SendGradient:
                    Require(!IsFirst(op.Direction), "the first stage of a direction sends no gradient");
                    Require(Get(op.MicroBatch).BackwardInput >= 0, "gradient sent before its backward");
                    Once(ref Get(op.MicroBatch).SendGradient, "gradient sent");
                    break;
                default:
                    Fail($"unknown instruction kind {(int)op.Kind}");
                    break;
            }

            void Forward(int m, int d)
            {
                Require(IsFirst(d) || Get(m).RecvActivation >= 0, $"forward of micro-batch {m} before its activation was received");
                Once(ref Get(m).Forward, $"forward of micro-batch {m}");
            }

            void Backward(int m, int d, bool full)
            {
                Require(Get(m).Forward >= 0, $"backward of micro-batch {m} before its forward");
                Require(IsLast(d) || Get(m).RecvGradient >= 0, $"backward of micro-batch {m} before its output gradient was received");
                Once(ref Get(m).BackwardInput, $"backward of micro-batch {m}");
                Get(m).FullBackward = full;
            }

            void Check(int m, int d, string what)
            {
                if (m < 0 || m >= schedule.MicroBatches) Fail($"{what}micro-batch {m} is outside 0..{schedule.MicroBatches - 1}");
                if (d != schedule.DirectionOf(m)) Fail($"{what}micro-batch {m} travels in direction {schedule.DirectionOf(m)}, not {d}");
            }

            void Once(ref int slot, string what)
            {
                if (slot >= 0) Fail($"{what} twice (first at instruction {slot})");
                slot = i;
            }

            void Require(bool condition, string rule)
            {
                if (!condition) Fail(rule);
            }

            void Fail(string rule) => throw new InvalidPipelineScheduleException($"rank {rank}, instruction {i} ({op}): {rule}");
        }

        for (var direction = 0; direction < schedule.Directions; direction++)
        {
            var first = IsFirst(direction);
            var last = IsLast(direction);
            foreach (var m in schedule.MicroBatchesOf(direction))
            {
                var s = seen[m];
                string? missing = s is null || s.Forward < 0 ? "forward"
                    : s.BackwardInput < 0 ? "backward"
                    : !s.FullBackward && s.Weight < 0 ? "weight step after its input-only backward"
                    : !first && s.RecvActivation < 0 ? "activation receive"
                    : !last && s.SendActivation < 0 ? "activation send"
                    : !last && s.RecvGradient < 0 ? "gradient receive"
                    : !first && s.SendGradient < 0 ? "gradient send"
                    : null;
                if (missing is not null)
                    throw new InvalidPipelineScheduleException(
                        $"rank {rank} (stage {schedule.StageOf(rank, direction)} of direction {direction}): micro-batch {m} has no {missing}");
            }
        }

        bool IsFirst(int direction) => schedule.StageOf(rank, direction) == 0;
        bool IsLast(int direction) => schedule.StageOf(rank, direction) == schedule.Ranks - 1;
        ref Seen Get(int m)
        {
            seen[m] ??= new Seen();
            return ref seen[m];
        }
    }
}
