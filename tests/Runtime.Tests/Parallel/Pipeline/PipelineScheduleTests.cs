using DeepSeek.Runtime.Distributed.Pipeline;

namespace DeepSeek.Runtime.Tests.Distributed.Pipeline;

public class PipelineScheduleTests
{
    public static TheoryData<int, int> DualPipeShapes()
    {
        var data = new TheoryData<int, int>();
        foreach (var ranks in new[] { 2, 4, 6, 8, 10, 12, 16 })
            for (var chunks = 2 * ranks; chunks <= 2 * ranks + 12; chunks += 2)
                data.Add(ranks, chunks);
        return data;
    }

    public static TheoryData<int, int> OneFOneBShapes()
    {
        var data = new TheoryData<int, int>();
        foreach (var ranks in new[] { 1, 2, 3, 4, 5, 8, 9 })
            foreach (var chunks in new[] { 1, 2, 3, ranks, 2 * ranks + 1, 20 }.Distinct())
                data.Add(ranks, chunks);
        return data;
    }

    [Theory]
    [MemberData(nameof(DualPipeShapes))]
    public void DualPipe_is_complete_and_deadlock_free(int ranks, int chunks)
    {
        var schedule = DualPipeSchedule.Build(ranks, chunks);   // the constructor validates; here we also count independently
        AssertEachStageRunsEveryMicroBatchOnce(schedule);
    }

    [Theory]
    [MemberData(nameof(OneFOneBShapes))]
    public void OneFOneB_is_complete_and_deadlock_free(int ranks, int chunks)
    {
        var schedule = OneFOneBSchedule.Build(ranks, chunks);
        AssertEachStageRunsEveryMicroBatchOnce(schedule);
    }

    private static void AssertEachStageRunsEveryMicroBatchOnce(PipelineSchedule s)
    {
        for (var rank = 0; rank < s.Ranks; rank++)
        {
            var ops = s.OpsOf(rank);
            var forwards = ops.Where(o => o.Kind is PipelineOpKind.Forward or PipelineOpKind.ForwardBackward).Select(o => o.MicroBatch).ToList();
            var backwards = ops.Where(o => o.Kind is PipelineOpKind.Backward or PipelineOpKind.BackwardInput).Select(o => o.MicroBatch)
                .Concat(ops.Where(o => o.Kind == PipelineOpKind.ForwardBackward).Select(o => o.SecondMicroBatch)).ToList();
            var weights = ops.Where(o => o.Kind == PipelineOpKind.BackwardWeight).Select(o => o.MicroBatch).Order().ToList();
            var inputOnly = ops.Where(o => o.Kind == PipelineOpKind.BackwardInput).Select(o => o.MicroBatch).Order().ToList();
            // Each rank holds one stage per direction, and every micro-batch of every direction passes every stage.
            Assert.Equal(Enumerable.Range(0, s.MicroBatches), forwards.Order());
            Assert.Equal(Enumerable.Range(0, s.MicroBatches), backwards.Order());
            Assert.Equal(inputOnly, weights);
            foreach (var m in Enumerable.Range(0, s.MicroBatches))
            {
                int Position(Func<PipelineOp, bool> p) => ops.ToList().FindIndex(o => p(o));
                var f = Position(o => o.MicroBatch == m && o.Kind is PipelineOpKind.Forward or PipelineOpKind.ForwardBackward);
                var b = Position(o => (o.Kind is PipelineOpKind.Backward or PipelineOpKind.BackwardInput && o.MicroBatch == m)
                    || (o.Kind == PipelineOpKind.ForwardBackward && o.SecondMicroBatch == m));
                Assert.True(f < b, $"rank {rank}: micro-batch {m} goes backward (instruction {b}) before forward ({f})");
            }
            // Two stages per rank under DualPipe: stage r for direction 0 and its mirror for direction 1.
            if (s.Kind == PipelineScheduleKind.DualPipe)
                Assert.Equal(s.Ranks - 1 - rank, s.StageOf(rank, 1));
        }
    }

    [Fact]
    public void DualPipe_feeds_half_the_micro_batches_from_each_end()
    {
        var s = DualPipeSchedule.Build(4, 10);
        Assert.Equal(PipelineOpKind.Forward, s.OpsOf(0)[0].Kind);
        Assert.Equal(0, s.OpsOf(0)[0].MicroBatch);
        Assert.Equal(5, s.OpsOf(3)[0].MicroBatch);   // the first micro-batch of direction 1 starts at the last rank
        Assert.Equal([0, 1, 2, 3, 4], s.MicroBatchesOf(0));
        Assert.Equal([5, 6, 7, 8, 9], s.MicroBatchesOf(1));
        Assert.Contains(s.OpsOf(1), o => o.Kind == PipelineOpKind.ForwardBackward);
        Assert.Contains(s.OpsOf(1), o => o.Kind == PipelineOpKind.BackwardWeight);
    }

    [Theory]
    [InlineData(PipelineScheduleKind.DualPipe, 7, 20, "even number of pipeline ranks")]
    [InlineData(PipelineScheduleKind.DualPipe, 1, 20, "even number of pipeline ranks")]
    [InlineData(PipelineScheduleKind.DualPipe, 8, 14, "at least 2 x ranks = 16")]
    [InlineData(PipelineScheduleKind.DualPipe, 8, 17, "even number of micro-batches")]
    [InlineData(PipelineScheduleKind.DualPipe, 0, 20, "ranks must be at least 1")]
    [InlineData(PipelineScheduleKind.OneFOneB, 0, 20, "ranks must be at least 1")]
    [InlineData(PipelineScheduleKind.OneFOneB, 4, 0, "at least 1, got 0")]
    [InlineData(PipelineScheduleKind.OneFOneB, 4, -3, "at least 1, got -3")]
    public void Bad_shapes_are_rejected_with_a_clear_message(PipelineScheduleKind kind, int ranks, int chunks, string message)
    {
        var e = Assert.Throws<PipelineScheduleException>(() => PipelineSchedule.Create(kind, ranks, chunks));
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(PipelineScheduleKind.DualPipe, 4, 8)]
    [InlineData(PipelineScheduleKind.OneFOneB, 3, 4)]
    public void Removing_any_one_instruction_is_caught(PipelineScheduleKind kind, int ranks, int chunks)
    {
        // Every instruction of a schedule is necessary: without it a stage misses a step, a send or a receive.
        var good = PipelineSchedule.Create(kind, ranks, chunks);
        for (var rank = 0; rank < ranks; rank++)
            for (var i = 0; i < good.OpsOf(rank).Count; i++)
            {
                var lists = Enumerable.Range(0, ranks).Select(r => r == rank
                    ? (IReadOnlyList<PipelineOp>)good.OpsOf(r).Where((_, j) => j != i).ToList()
                    : good.OpsOf(r)).ToList();
                Assert.Throws<InvalidPipelineScheduleException>(() => new PipelineSchedule(kind, ranks, chunks, lists));
            }
    }

    [Fact]
    public void Duplicates_backward_before_forward_and_foreign_micro_batches_are_caught()
    {
        var good = OneFOneBSchedule.Build(2, 2);
        IReadOnlyList<IReadOnlyList<PipelineOp>> With(int rank, Func<List<PipelineOp>, List<PipelineOp>> edit) =>
            Enumerable.Range(0, 2).Select(r => (IReadOnlyList<PipelineOp>)(r == rank ? edit(good.OpsOf(r).ToList()) : good.OpsOf(r).ToList())).ToList();

        var twice = Assert.Throws<InvalidPipelineScheduleException>(() => new PipelineSchedule(PipelineScheduleKind.OneFOneB, 2, 2,
            With(1, l => { l.Insert(1, l[1]); return l; })));
        Assert.Contains("twice", twice.Message, StringComparison.Ordinal);

        // Rank 1 (last stage) computes F0 then B0: swap them.
        var swapped = Assert.Throws<InvalidPipelineScheduleException>(() => new PipelineSchedule(PipelineScheduleKind.OneFOneB, 2, 2,
            With(1, l => { (l[1], l[2]) = (l[2], l[1]); return l; })));
        Assert.Contains("before its forward", swapped.Message, StringComparison.Ordinal);

        var foreign = Assert.Throws<InvalidPipelineScheduleException>(() => new PipelineSchedule(PipelineScheduleKind.OneFOneB, 2, 2,
            With(0, l => { l.Add(new PipelineOp(PipelineOpKind.Forward, 5, 0)); return l; })));
        Assert.Contains("outside 0..1", foreign.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_schedule_whose_ranks_wait_on_each_other_is_a_deadlock()
    {
        // Both ranks are complete and well-ordered on their own, but rank 0 waits for the gradient of micro-batch 0 before it
        // sends the activation of micro-batch 1, while rank 1 wants micro-batch 1's activation before it returns micro-batch 0's gradient.
        var rank0 = new List<PipelineOp>
        {
            new(PipelineOpKind.Forward, 0, 0), new(PipelineOpKind.Forward, 1, 0), new(PipelineOpKind.SendActivation, 0, 0),
            new(PipelineOpKind.RecvGradient, 0, 0), new(PipelineOpKind.Backward, 0, 0),
            new(PipelineOpKind.SendActivation, 1, 0), new(PipelineOpKind.RecvGradient, 1, 0), new(PipelineOpKind.Backward, 1, 0),
        };
        var rank1 = new List<PipelineOp>
        {
            new(PipelineOpKind.RecvActivation, 0, 0), new(PipelineOpKind.Forward, 0, 0),
            new(PipelineOpKind.RecvActivation, 1, 0), new(PipelineOpKind.Forward, 1, 0),
            new(PipelineOpKind.Backward, 0, 0), new(PipelineOpKind.SendGradient, 0, 0),
            new(PipelineOpKind.Backward, 1, 0), new(PipelineOpKind.SendGradient, 1, 0),
        };
        var e = Assert.Throws<InvalidPipelineScheduleException>(() => new PipelineSchedule(PipelineScheduleKind.OneFOneB, 2, 2, [rank0, rank1]));
        Assert.Contains("deadlocks", e.Message, StringComparison.Ordinal);
        Assert.Contains("rank 0 at instruction 3 (recv-grad 0)", e.Message, StringComparison.Ordinal);
        Assert.Contains("rank 1 at instruction 2 (recv-act 1)", e.Message, StringComparison.Ordinal);
    }
}
