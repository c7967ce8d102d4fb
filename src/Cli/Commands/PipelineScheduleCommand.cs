using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using DeepSeek.Runtime.Distributed.Pipeline;
using Spectre.Console;

namespace DeepSeek.Cli.Commands;

/// <summary>
/// <c>deepseek pipeline-schedule --ranks 8 --chunks 20 [--schedule dualpipe|1f1b] [--f F --b B --w W --fb FB] [--json]</c>:
/// simulates one training step of a pipeline schedule and prints each rank's timeline (one row per rank, cells labelled by
/// micro-batch, like DualPipe's published figure) with the step time and the bubble against the published formula.
/// </summary>
internal static class PipelineScheduleCommand
{
    public static Command Create()
    {
        var ranks = new Option<int>("--ranks") { Description = "Pipeline ranks (stages); even for dualpipe.", DefaultValueFactory = _ => 8 };
        var chunks = new Option<int>("--chunks") { Description = "Micro-batches per step (dualpipe: even, at least 2 x ranks; half enter at each end).", DefaultValueFactory = _ => 20 };
        var schedule = new Option<string>("--schedule") { Description = "dualpipe or 1f1b.", DefaultValueFactory = _ => "dualpipe" };
        schedule.AcceptOnlyFromAmong("dualpipe", "1f1b");
        var f = new Option<double>("--f") { Description = "F: forward time of one micro-batch on one stage.", DefaultValueFactory = _ => 1 };
        var b = new Option<double>("--b") { Description = "B: full backward time (input and weight gradients).", DefaultValueFactory = _ => 2 };
        var w = new Option<double>("--w") { Description = "W: the weight-gradient part of B.", DefaultValueFactory = _ => 1 };
        var fb = new Option<double?>("--fb") { Description = "F&B: an overlapped forward+backward pair (default F + B, nothing overlapped)." };
        var latency = new Option<double>("--latency") { Description = "Time from a send to the data being usable on the next rank.", DefaultValueFactory = _ => 0 };
        var json = new Option<bool>("--json") { Description = "Print the timelines as JSON." };
        var verbose = CliOptions.Verbose();
        var command = new Command("pipeline-schedule", "Simulate a pipeline-parallel schedule (DualPipe or 1F1B): per-rank timeline and bubble.")
        {
            ranks, chunks, schedule, f, b, w, fb, latency, json, verbose,
        };
        command.SetAction(parse =>
        {
            var output = parse.InvocationConfiguration.Output;
            return CliErrors.Guard(parse.InvocationConfiguration.Error, parse.GetValue(verbose), () =>
            {
                var kind = parse.GetValue(schedule) == "1f1b" ? PipelineScheduleKind.OneFOneB : PipelineScheduleKind.DualPipe;
                var forward = parse.GetValue(f);
                var backward = parse.GetValue(b);
                var costs = new PipelineCosts(forward, backward, parse.GetValue(w), parse.GetValue(fb) ?? forward + backward, parse.GetValue(latency));
                costs.Validate();
                var timeline = PipelineSimulator.Simulate(PipelineSchedule.Create(kind, parse.GetValue(ranks), parse.GetValue(chunks)), costs);
                if (parse.GetValue(json)) WriteJson(output, timeline);
                else WriteText(output, timeline, TrainingProgressView.IsInteractive(output));
                return 0;
            });
        });
        return command;
    }

    private static string Num(double v) => v.ToString("0.###", CultureInfo.InvariantCulture);

    private static string Name(PipelineScheduleKind kind) => kind == PipelineScheduleKind.DualPipe ? "DualPipe" : "1F1B";

    private static string Expression(PipelineScheduleKind kind) => kind == PipelineScheduleKind.DualPipe ? "(PP/2-1)(F&B+B-3W)" : "(PP-1)(F+B)";

    private static void WriteText(TextWriter o, PipelineTimeline t, bool colour)
    {
        var s = t.Schedule;
        var c = t.Costs;
        var feed = s.Kind == PipelineScheduleKind.DualPipe
            ? $"micro-batches 0-{s.MicroBatches / 2 - 1} enter at rank 0, {s.MicroBatches / 2}-{s.MicroBatches - 1} at rank {s.Ranks - 1}"
            : $"micro-batches 0-{s.MicroBatches - 1} enter at rank 0";
        o.WriteLine($"{Name(s.Kind)}: {s.Ranks} ranks, {s.MicroBatches} micro-batches ({feed}); F={Num(c.Forward)} B={Num(c.Backward)} W={Num(c.Weight)} F&B={Num(c.ForwardBackward)}{(c.SendLatency > 0 ? $" latency={Num(c.SendLatency)}" : "")}");
        o.WriteLine();
        var grid = PipelineTimelineGrid.Build(t);
        o.WriteLine($"{"time",-8}{grid.Axis}");
        for (var r = 0; r < s.Ranks; r++)
        {
            var label = $"rank {r}".PadRight(8);
            if (!colour)
            {
                o.WriteLine(label + grid.Rows[r]);
                continue;
            }
            var line = new StringBuilder(Markup.Escape(label));
            foreach (var (text, op) in grid.Cells[r])
                line.Append(op is null ? $"[grey]{Markup.Escape(text)}[/]" : $"[{Colour(s, op.Value)}]{Markup.Escape(text)}[/]");
            AnsiConsole.MarkupLine(line.ToString());
        }
        o.WriteLine();
        o.WriteLine("Fn forward of micro-batch n · Bn full backward · bn backward for inputs (weight gradient deferred) · Wn the deferred weight gradient");
        o.WriteLine("Fn+Bm forward of n overlapped with backward of m · '.' idle");
        o.WriteLine();
        var exact = PipelineBubble.FormulaIsExact(s.Kind, c);
        o.WriteLine($"step time  {Num(t.Makespan)}");
        o.WriteLine($"bubble     {Num(t.Bubble)} (largest idle time of a rank); formula {Expression(s.Kind)} = {Num(t.FormulaBubble)}"
            + (exact ? ", exact for these costs" : ", an approximation for these costs"));
        if (s.Kind == PipelineScheduleKind.DualPipe)
        {
            var oneFOneB = PipelineSimulator.Simulate(OneFOneBSchedule.Build(s.Ranks, s.MicroBatches), c);
            o.WriteLine($"1F1B       step time {Num(oneFOneB.Makespan)}, bubble {Num(oneFOneB.Bubble)} on the same ranks and micro-batches: DualPipe takes {Num(t.Makespan / oneFOneB.Makespan)} of its time");
        }
    }

    // Forward blue, backward orange (the published figure's colours); the second direction lighter, deferred work green.
    private static string Colour(PipelineSchedule s, PipelineOp op) => op.Kind switch
    {
        PipelineOpKind.Forward => s.DirectionOf(op.MicroBatch) == 0 ? "black on deepskyblue1" : "black on lightskyblue1",
        PipelineOpKind.Backward or PipelineOpKind.BackwardInput => s.DirectionOf(op.MicroBatch) == 0 ? "black on orange1" : "black on navajowhite1",
        PipelineOpKind.BackwardWeight => "black on palegreen1",
        _ => "black on plum1",
    };

    private static void WriteJson(TextWriter o, PipelineTimeline t)
    {
        var s = t.Schedule;
        var doc = new Dictionary<string, object?>
        {
            ["schedule"] = s.Kind == PipelineScheduleKind.DualPipe ? "dualpipe" : "1f1b",
            ["ranks"] = s.Ranks,
            ["chunks"] = s.MicroBatches,
            ["costs"] = new { f = t.Costs.Forward, b = t.Costs.Backward, w = t.Costs.Weight, fb = t.Costs.ForwardBackward, latency = t.Costs.SendLatency },
            ["step_time"] = t.Makespan,
            ["bubble"] = t.Bubble,
            ["formula"] = new { expression = Expression(s.Kind), value = t.FormulaBubble, exact = PipelineBubble.FormulaIsExact(s.Kind, t.Costs) },
            ["per_rank"] = t.Ranks.Select(r => new
            {
                rank = r.Rank,
                stages = Enumerable.Range(0, s.Directions).Select(d => s.StageOf(r.Rank, d)).ToArray(),
                busy = r.Busy,
                idle = r.Idle,
                ops = r.Ops.Select(x => new
                {
                    op = x.Op.Kind switch
                    {
                        PipelineOpKind.Forward => "F",
                        PipelineOpKind.Backward => "B",
                        PipelineOpKind.BackwardInput => "b",
                        PipelineOpKind.BackwardWeight => "W",
                        _ => "F&B",
                    },
                    micro_batch = x.Op.MicroBatch,
                    direction = x.Op.Direction,
                    backward_micro_batch = x.Op.Kind == PipelineOpKind.ForwardBackward ? x.Op.SecondMicroBatch : (int?)null,
                    start = x.Start,
                    end = x.End,
                }).ToArray(),
            }).ToArray(),
        };
        o.WriteLine(JsonSerializer.Serialize(doc, new JsonSerializerOptions { WriteIndented = true }));
    }
}
