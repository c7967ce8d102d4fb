using DeepSeek.Runtime.Distributed;
using DeepSeek.Runtime.Distributed.Pipeline;

namespace DeepSeek.Runtime.Tests.Distributed.Pipeline;

public class PipelineExecutorTests
{
    public static TheoryData<PipelineScheduleKind, int, int, bool> Cases() => new()
    {
        { PipelineScheduleKind.OneFOneB, 2, 5, false },
        { PipelineScheduleKind.OneFOneB, 4, 8, false },
        { PipelineScheduleKind.OneFOneB, 8, 11, false },
        { PipelineScheduleKind.DualPipe, 2, 4, false },
        { PipelineScheduleKind.DualPipe, 2, 10, false },
        { PipelineScheduleKind.DualPipe, 4, 8, false },
        { PipelineScheduleKind.DualPipe, 4, 14, true },
        { PipelineScheduleKind.DualPipe, 8, 16, false },
        { PipelineScheduleKind.DualPipe, 8, 20, true },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Loss_and_every_gradient_equal_sequential_execution_exactly(PipelineScheduleKind kind, int ranks, int chunks, bool overlap)
    {
        var model = new PipelineModel(ranks, chunks);
        var reference = model.Sequential();
        var schedule = PipelineSchedule.Create(kind, ranks, chunks);
        var results = Ranks.Run(ranks, comm =>
        {
            var stages = Enumerable.Range(0, schedule.Directions).Select(d => model.Stage(schedule.StageOf(comm.Rank, d))).ToArray();
            return PipelineExecutor.Run(comm, schedule, stages, model.Inputs, model.Loss, new PipelineExecutorOptions { OverlapForwardBackward = overlap });
        });

        Assert.Contains(reference.Gradients, g => g.Any(v => v != 0));
        for (var rank = 0; rank < ranks; rank++)
        {
            var r = results[rank];
            Assert.Equal(reference.Loss, r.Loss);            // bit-exact: xunit's double Equal without precision is ==
            Assert.Equal(reference.MicroBatchLosses, r.MicroBatchLosses);
            Assert.Equal(schedule.Directions, r.Gradients.Count);
            for (var d = 0; d < schedule.Directions; d++)
            {
                var stage = schedule.StageOf(rank, d);
                var expected = reference.Gradients[stage];
                var actual = r.Gradients[d];
                Assert.Equal(expected.Length, actual.Length);
                for (var i = 0; i < expected.Length; i++)
                    Assert.True(BitConverter.DoubleToInt64Bits(expected[i]) == BitConverter.DoubleToInt64Bits(actual[i]),
                        $"rank {rank}, stage {stage}, parameter {i}: pipeline {actual[i]:R} vs sequential {expected[i]:R}");
            }
        }
    }

    [Fact]
    public void The_equality_check_can_fail_summing_each_direction_first_changes_the_bits()
    {
        // Why the executor keeps per-micro-batch gradients: summing DualPipe's two copies of a stage as
        // (Σ direction 0) + (Σ direction 1) — the natural all-reduce — is not the sequential order and differs in the last bits.
        var model = new PipelineModel(4, 16);
        var reference = model.Sequential();
        var perMicroBatch = model.PerMicroBatchGradients();
        var differing = 0;
        for (var s = 0; s < 4; s++)
        {
            var p = perMicroBatch[s];
            for (var i = 0; i < reference.Gradients[s].Length; i++)
            {
                double first = 0, second = 0;
                for (var m = 0; m < 8; m++) first += p[m][i];
                for (var m = 8; m < 16; m++) second += p[m][i];
                if (first + second != reference.Gradients[s][i]) differing++;
            }
        }
        Assert.True(differing > 0, "with these seeds the two summation orders agree everywhere; pick seeds that tell them apart");
    }

    [Fact]
    public void A_failing_stage_ends_every_rank_with_the_reason_instead_of_a_hang()
    {
        var model = new PipelineModel(4, 8);
        var schedule = DualPipeSchedule.Build(4, 8);
        var e = Assert.Throws<RankFailedException>(() => Ranks.Run(4, comm =>
        {
            var stages = Enumerable.Range(0, 2).Select(d =>
            {
                var stage = schedule.StageOf(comm.Rank, d);
                return model.Stage(stage, stage == 2 ? (m, call) => m == 3 && call == 1 : null);
            }).ToArray();
            return PipelineExecutor.Run(comm, schedule, stages, model.Inputs, model.Loss);
        }, operationTimeout: TimeSpan.FromSeconds(20)));
        Assert.Contains("stage failure injected at backward of micro-batch 3", e.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Mismatched_group_stages_or_inputs_are_argument_errors()
    {
        var model = new PipelineModel(2, 4);
        var schedule = DualPipeSchedule.Build(2, 4);
        var errors = Ranks.Run(2, comm =>
        {
            var two = new[] { model.Stage(schedule.StageOf(comm.Rank, 0)), model.Stage(schedule.StageOf(comm.Rank, 1)) };
            return new[]
            {
                Record.Exception(() => PipelineExecutor.Run(comm, DualPipeSchedule.Build(4, 8), two, model.Inputs, model.Loss))?.Message,
                Record.Exception(() => PipelineExecutor.Run(comm, schedule, two[..1], model.Inputs, model.Loss))?.Message,
                Record.Exception(() => PipelineExecutor.Run(comm, schedule, two, model.Inputs[..3], model.Loss))?.Message,
            };
        });
        Assert.Contains("built for 4", errors[0][0], StringComparison.Ordinal);
        Assert.Contains("2 stage(s) per rank", errors[0][1], StringComparison.Ordinal);
        Assert.Contains("got 3 inputs", errors[0][2], StringComparison.Ordinal);
    }
}
