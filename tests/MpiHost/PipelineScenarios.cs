using DeepSeek.Runtime.Distributed;
using DeepSeek.Runtime.Distributed.Pipeline;

namespace DeepSeek.MpiHost;

internal static partial class Scenarios
{
    /// <summary>
    /// <c>pipeline dualpipe|1f1b CHUNKS</c>: one training step of the schedule over MPI, one stage per rank (two under DualPipe),
    /// checked against sequential execution of the same micro-batches in this process: loss and every gradient bit for bit.
    /// </summary>
    private static void Pipeline(ICommunicator c, string[] args)
    {
        var kind = args.Length > 0 && args[0] == "1f1b" ? PipelineScheduleKind.OneFOneB : PipelineScheduleKind.DualPipe;
        var chunks = args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 4 * c.Size;
        const int rows = 3;
        static int Boundary(int s) => 3 + s % 4;
        IPipelineStage Stage(int s) => new TanhMlpStage(rows, [Boundary(s), 5 + s % 3, Boundary(s + 1)], seed: 1000 + s);
        var random = new Random(7);
        var inputs = Enumerable.Range(0, chunks).Select(_ => Enumerable.Range(0, rows * Boundary(0)).Select(_ => random.NextDouble() * 2 - 1).ToArray()).ToArray();
        var targets = Enumerable.Range(0, chunks).Select(_ => Enumerable.Range(0, rows * Boundary(c.Size)).Select(_ => random.NextDouble() - 0.5).ToArray()).ToArray();
        var loss = new SquaredErrorLoss(targets);

        var schedule = PipelineSchedule.Create(kind, c.Size, chunks);
        var stages = Enumerable.Range(0, schedule.Directions).Select(d => Stage(schedule.StageOf(c.Rank, d))).ToArray();
        var result = PipelineExecutor.Run(c, schedule, stages, inputs, loss);
        var reference = SequentialPipeline.Run(Enumerable.Range(0, c.Size).Select(Stage).ToArray(), inputs, loss);

        Check(result.Loss == reference.Loss, $"loss {result.Loss:R} equals sequential {reference.Loss:R}");
        Check(result.MicroBatchLosses.SequenceEqual(reference.MicroBatchLosses), "per-micro-batch losses equal sequential");
        for (var d = 0; d < schedule.Directions; d++)
        {
            var stage = schedule.StageOf(c.Rank, d);
            Check(result.Gradients[d].Any(v => v != 0), $"stage {stage} has a non-zero gradient");
            Check(result.Gradients[d].AsSpan().SequenceEqual(reference.Gradients[stage]), $"every gradient of stage {stage} equals sequential bit for bit");
        }
        Console.WriteLine($"pipeline {kind} rank {c.Rank}: loss {result.Loss:R}, {schedule.Directions} stage gradient(s) bit-identical to sequential");
    }
}
