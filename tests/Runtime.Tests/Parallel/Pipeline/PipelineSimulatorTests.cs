using DeepSeek.Runtime.Distributed.Pipeline;
using FsCheck;
using FsCheck.Fluent;

namespace DeepSeek.Runtime.Tests.Distributed.Pipeline;

public class PipelineSimulatorTests
{
    [Theory]
    [InlineData(1, 2, 1)]
    [InlineData(1, 1, 0)]
    [InlineData(2, 3, 1)]
    [InlineData(0.5, 1.75, 0.25)]
    public void OneFOneB_bubble_is_PP_minus_1_times_F_plus_B_on_every_rank(double f, double b, double w)
    {
        var costs = new PipelineCosts(f, b, w, f + b);
        foreach (var ranks in new[] { 1, 2, 3, 4, 8 })
            foreach (var chunks in new[] { 1, 3, ranks, 2 * ranks, 20 })
            {
                var t = PipelineSimulator.Simulate(OneFOneBSchedule.Build(ranks, chunks), costs);
                var formula = (ranks - 1) * (f + b);
                Assert.All(t.Ranks, r => Assert.Equal(formula, r.Idle, 12));
                Assert.Equal(formula, t.Bubble, 12);
                Assert.Equal(chunks * (f + b) + formula, t.Makespan, 12);
                Assert.True(PipelineBubble.FormulaIsExact(PipelineScheduleKind.OneFOneB, costs));
            }
    }

    [Theory]
    [InlineData(3.0)]    // F&B = F + B: nothing overlapped
    [InlineData(2.5)]
    [InlineData(2.0)]    // F&B = B: the forward hides entirely behind the backward
    public void DualPipe_bubble_equals_the_formula_for_F1_B2_W1(double fb)
    {
        var costs = new PipelineCosts(1, 2, 1, fb);
        Assert.True(PipelineBubble.FormulaIsExact(PipelineScheduleKind.DualPipe, costs));
        foreach (var ranks in new[] { 2, 4, 6, 8, 12, 16 })
            for (var chunks = 2 * ranks; chunks <= 2 * ranks + 10; chunks += 2)
            {
                var t = PipelineSimulator.Simulate(DualPipeSchedule.Build(ranks, chunks), costs);
                Assert.Equal((ranks / 2 - 1) * (fb + 2 - 3 * 1), t.Bubble);
                Assert.Equal(t.FormulaBubble, t.Bubble);
            }
    }

    [Fact]
    public void DualPipe_bubble_equals_the_formula_whenever_its_conditions_hold()
    {
        // Conditions (PipelineBubble.FormulaIsExact): B − W = F, W ≤ F, B ≤ F&B ≤ F + B, no send latency; costs in 1/8 steps stay exact in doubles.
        var gen =
            from half in Gen.Choose(1, 8)
            from extra in Gen.Choose(0, 6)
            from f8 in Gen.Choose(1, 24)
            from w8 in Gen.Choose(0, f8)
            from overlap in Gen.Choose(0, f8)
            select (Ranks: 2 * half, Chunks: 4 * half + 2 * extra, F: f8 / 8.0, W: w8 / 8.0, Fb: (f8 + w8 + overlap) / 8.0);
        Prop.ForAll(gen.ToArbitrary(), c =>
        {
            var costs = new PipelineCosts(c.F, c.F + c.W, c.W, c.Fb);
            var t = PipelineSimulator.Simulate(DualPipeSchedule.Build(c.Ranks, c.Chunks), costs);
            return PipelineBubble.FormulaIsExact(PipelineScheduleKind.DualPipe, costs) && t.Bubble == t.FormulaBubble;
        }).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void Outside_its_conditions_the_DualPipe_formula_is_only_an_approximation()
    {
        // B − W = 2 ≠ F = 1: the input-only backward no longer fits the forward's slot.
        var costs = new PipelineCosts(1, 3, 1, 3.5);
        Assert.False(PipelineBubble.FormulaIsExact(PipelineScheduleKind.DualPipe, costs));
        var t = PipelineSimulator.Simulate(DualPipeSchedule.Build(4, 8), costs);
        Assert.NotEqual(t.FormulaBubble, t.Bubble);
    }

    [Fact]
    public void DualPipe_beats_1F1B_on_the_published_figure_shape()
    {
        var costs = PipelineCosts.Default;
        var dual = PipelineSimulator.Simulate(DualPipeSchedule.Build(8, 20), costs);
        var oneF = PipelineSimulator.Simulate(OneFOneBSchedule.Build(8, 20), costs);
        // Same work per rank (20 forwards and 20 backwards of one stage), less bubble.
        Assert.Equal(oneF.Ranks[0].Busy, dual.Ranks[0].Busy);
        Assert.Equal(dual.Ranks[0].Busy + PipelineBubble.DualPipe(8, costs), dual.Makespan);
        Assert.True(dual.Makespan < oneF.Makespan);
    }

    [Theory]
    [InlineData(PipelineScheduleKind.DualPipe, 8, 20, 0.0)]
    [InlineData(PipelineScheduleKind.DualPipe, 6, 14, 0.5)]
    [InlineData(PipelineScheduleKind.OneFOneB, 5, 9, 0.25)]
    public void Timelines_respect_every_dependency_and_never_overlap_on_a_rank(PipelineScheduleKind kind, int ranks, int chunks, double latency)
    {
        // An independent check of the simulator: recompute from the timed ops when each input became available.
        var s = PipelineSchedule.Create(kind, ranks, chunks);
        var t = PipelineSimulator.Simulate(s, new PipelineCosts(1, 2, 1, 2.5, latency));
        var forwardEnd = new Dictionary<(int Stage, int MicroBatch), double>();
        var backwardEnd = new Dictionary<(int Stage, int MicroBatch), double>();
        foreach (var r in t.Ranks)
            foreach (var op in r.Ops)
            {
                if (op.Op.Kind is PipelineOpKind.Forward or PipelineOpKind.ForwardBackward)
                    forwardEnd[(s.StageOf(r.Rank, op.Op.Direction), op.Op.MicroBatch)] = op.End;
                if (op.Op.Kind is PipelineOpKind.Backward or PipelineOpKind.BackwardInput)
                    backwardEnd[(s.StageOf(r.Rank, op.Op.Direction), op.Op.MicroBatch)] = op.End;
                if (op.Op.Kind == PipelineOpKind.ForwardBackward)
                    backwardEnd[(s.StageOf(r.Rank, op.Op.SecondDirection), op.Op.SecondMicroBatch)] = op.End;
            }
        foreach (var r in t.Ranks)
        {
            for (var i = 1; i < r.Ops.Count; i++)
                Assert.True(r.Ops[i].Start >= r.Ops[i - 1].End, $"rank {r.Rank}: {r.Ops[i].Op} starts before {r.Ops[i - 1].Op} ends");
            foreach (var op in r.Ops)
            {
                if (op.Op.Kind is PipelineOpKind.Forward or PipelineOpKind.ForwardBackward && s.StageOf(r.Rank, op.Op.Direction) is var fs && fs > 0)
                    Assert.True(op.Start >= forwardEnd[(fs - 1, op.Op.MicroBatch)] + latency, $"rank {r.Rank}: {op.Op} starts before its activation arrives");
                var (bm, bd) = op.Op.Kind == PipelineOpKind.ForwardBackward ? (op.Op.SecondMicroBatch, op.Op.SecondDirection) : (op.Op.MicroBatch, op.Op.Direction);
                if (op.Op.Kind is PipelineOpKind.Backward or PipelineOpKind.BackwardInput or PipelineOpKind.ForwardBackward
                    && s.StageOf(r.Rank, bd) is var bs && bs < ranks - 1)
                    Assert.True(op.Start >= backwardEnd[(bs + 1, bm)] + latency, $"rank {r.Rank}: {op.Op} starts before its gradient arrives");
            }
            Assert.Equal(t.Makespan - r.Busy, r.Idle, 12);
        }
    }

    [Theory]
    [InlineData(-1, 2, 1, 3, "F (forward)")]
    [InlineData(1, 2, 3, 3, "cannot exceed")]
    [InlineData(1, double.NaN, 1, 3, "B (backward)")]
    public void Bad_costs_are_rejected(double f, double b, double w, double fb, string message)
    {
        var e = Assert.Throws<PipelineScheduleException>(() => PipelineSimulator.Simulate(OneFOneBSchedule.Build(2, 2), new PipelineCosts(f, b, w, fb)));
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
    }
}
