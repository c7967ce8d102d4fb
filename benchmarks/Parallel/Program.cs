using System.Diagnostics;
using System.Globalization;
using DeepSeek.Benchmarks.Parallel;
using DeepSeek.Runtime.Distributed;
using DeepSeek.Runtime.Distributed.Pipeline;

// Step time of DualPipe against 1F1B on the in-process communicator with simulated compute (each op sleeps its cost).
// Usage: parallel-bench [--ranks 8] [--chunks 20] [--unit-ms 10] [--f 1] [--b 2] [--w 1] [--repeats 3]
var options = Options.Parse(args);
var unit = TimeSpan.FromMilliseconds(options.UnitMs);
Console.WriteLine($"pipeline step, in-process communicator, {options.Ranks} ranks, {options.Chunks} micro-batches, simulated compute "
    + $"F={options.F} B={options.B} W={options.W} (1 unit = {options.UnitMs} ms), median of {options.Repeats}");
Console.WriteLine($"{"schedule",-34} {"measured ms",12} {"simulated ms",13} {"bubble (sim)",13}");

var oneFOneB = Measure("1F1B", PipelineScheduleKind.OneFOneB, overlap: false, fb: options.F + options.B);
var dual = Measure("DualPipe (F&B run back to back)", PipelineScheduleKind.DualPipe, overlap: false, fb: options.F + options.B);
var overlapped = Measure("DualPipe (F&B halves overlapped)", PipelineScheduleKind.DualPipe, overlap: true, fb: Math.Max(options.F, options.B));
Console.WriteLine();
Console.WriteLine($"DualPipe / 1F1B step time: {dual / oneFOneB:F3} (F&B back to back), {overlapped / oneFOneB:F3} (F&B overlapped)");
return 0;

double Measure(string name, PipelineScheduleKind kind, bool overlap, double fb)
{
    var schedule = PipelineSchedule.Create(kind, options.Ranks, options.Chunks);
    var simulated = PipelineSimulator.Simulate(schedule, new PipelineCosts(options.F, options.B, options.W, fb));
    var inputs = Enumerable.Range(0, options.Chunks).Select(m => new[] { (double)m }).ToArray();
    var times = new List<double>();
    for (var repeat = 0; repeat < options.Repeats; repeat++)
    {
        var perRank = InProcessCommunicator.Run(options.Ranks, comm =>
        {
            var stages = Enumerable.Range(0, schedule.Directions)
                .Select(_ => (IPipelineStage)new SleepStage(unit * options.F, unit * (options.B - options.W), unit * options.W)).ToArray();
            comm.Barrier();
            var watch = Stopwatch.StartNew();
            PipelineExecutor.Run(comm, schedule, stages, inputs, new IdentityLoss(), new PipelineExecutorOptions { OverlapForwardBackward = overlap });
            comm.Barrier();
            return watch.Elapsed.TotalMilliseconds;
        }, new InProcessCommunicatorOptions { OperationTimeout = TimeSpan.FromMinutes(2) });
        times.Add(perRank.Max());
    }
    times.Sort();
    var median = times[times.Count / 2];
    Console.WriteLine($"{name,-34} {median,12:F1} {simulated.Makespan * options.UnitMs,13:F1} {simulated.Bubble * options.UnitMs,13:F1}");
    return median;
}

internal sealed record Options(int Ranks, int Chunks, double UnitMs, double F, double B, double W, int Repeats)
{
    public static Options Parse(string[] args)
    {
        var o = new Options(8, 20, 10, 1, 2, 1, 3);
        for (var i = 0; i + 1 < args.Length; i += 2)
        {
            var v = args[i + 1];
            double D() => double.Parse(v, CultureInfo.InvariantCulture);
            int I() => int.Parse(v, CultureInfo.InvariantCulture);
            o = args[i] switch
            {
                "--ranks" => o with { Ranks = I() },
                "--chunks" => o with { Chunks = I() },
                "--unit-ms" => o with { UnitMs = D() },
                "--f" => o with { F = D() },
                "--b" => o with { B = D() },
                "--w" => o with { W = D() },
                "--repeats" => o with { Repeats = I() },
                _ => throw new ArgumentException($"unknown option {args[i]}"),
            };
        }
        return o;
    }
}
