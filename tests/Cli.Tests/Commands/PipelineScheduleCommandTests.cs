using System.Text.Json;

namespace DeepSeek.Cli.Tests.Commands;

public class PipelineScheduleCommandTests
{
    [Fact]
    public async Task Prints_one_row_per_rank_and_the_bubble_against_the_formula()
    {
        var (exit, output, error) = await CliRun.RunAsync("pipeline-schedule", "--ranks", "8", "--chunks", "20");
        Assert.Equal(0, exit);
        Assert.Empty(error);
        var lines = output.Split('\n');
        var rows = lines.Where(l => l.StartsWith("rank ", StringComparison.Ordinal)).ToArray();
        Assert.Equal(8, rows.Length);
        Assert.All(rows, r => Assert.Equal(rows[0].Length, r.Length));   // one time axis for all ranks
        Assert.StartsWith("rank 0  F0 F1 ", rows[0], StringComparison.Ordinal);                // micro-batch 0 enters at rank 0
        Assert.StartsWith("rank 7  F10F11", rows[7], StringComparison.Ordinal);                // micro-batch 10 enters at rank 7
        Assert.Contains(rows, r => r.Contains("F14+B0", StringComparison.Ordinal));            // an overlapped pair
        // F=1, B=2, W=1, F&B=3: (PP/2 − 1)(F&B + B − 3W) = 3 · 2.
        Assert.Contains("formula (PP/2-1)(F&B+B-3W) = 6, exact", output, StringComparison.Ordinal);
        Assert.Contains("bubble     6 ", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task OneFOneB_accepts_odd_ranks_and_reports_its_formula()
    {
        var (exit, output, _) = await CliRun.RunAsync("pipeline-schedule", "--ranks", "5", "--chunks", "7", "--schedule", "1f1b", "--f", "1", "--b", "3");
        Assert.Equal(0, exit);
        Assert.Equal(5, output.Split('\n').Count(l => l.StartsWith("rank ", StringComparison.Ordinal)));
        Assert.Contains("formula (PP-1)(F+B) = 16, exact", output, StringComparison.Ordinal);   // 4 · (1 + 3)
    }

    [Theory]
    [InlineData("dualpipe", 8, 20, 1, 2, 1, 2.5)]
    [InlineData("dualpipe", 4, 12, 1, 2, 1, 3)]
    [InlineData("1f1b", 6, 9, 1, 2, 1, 3)]
    public async Task Json_has_per_rank_timelines_and_the_bubble_equals_the_formula(string schedule, int ranks, int chunks, double f, double b, double w, double fb)
    {
        var (exit, output, _) = await CliRun.RunAsync("pipeline-schedule", "--ranks", $"{ranks}", "--chunks", $"{chunks}", "--schedule", schedule,
            "--f", $"{f}", "--b", $"{b}", "--w", $"{w}", "--fb", $"{fb}", "--json");
        Assert.Equal(0, exit);
        using var doc = JsonDocument.Parse(output);
        var root = doc.RootElement;
        var expected = schedule == "dualpipe" ? (ranks / 2 - 1) * (fb + b - 3 * w) : (ranks - 1) * (f + b);
        Assert.Equal(expected, root.GetProperty("bubble").GetDouble());
        Assert.Equal(expected, root.GetProperty("formula").GetProperty("value").GetDouble());
        Assert.True(root.GetProperty("formula").GetProperty("exact").GetBoolean());
        var perRank = root.GetProperty("per_rank").EnumerateArray().ToArray();
        Assert.Equal(ranks, perRank.Length);
        var stepTime = root.GetProperty("step_time").GetDouble();
        foreach (var rank in perRank)
        {
            Assert.Equal(stepTime - rank.GetProperty("busy").GetDouble(), rank.GetProperty("idle").GetDouble(), 9);
            var ops = rank.GetProperty("ops").EnumerateArray().ToArray();
            // Every micro-batch goes forward through each stage this rank holds exactly once.
            var forwards = ops.Where(o => o.GetProperty("op").GetString() is "F" or "F&B").Select(o => o.GetProperty("micro_batch").GetInt32()).Order();
            Assert.Equal(Enumerable.Range(0, chunks), forwards);
        }
    }

    [Theory]
    [InlineData("DualPipe needs an even number of pipeline ranks", "--ranks", "7")]
    [InlineData("at least 2 x ranks = 16", "--ranks", "8", "--chunks", "14")]
    [InlineData("even number of micro-batches", "--ranks", "4", "--chunks", "9")]
    [InlineData("cannot exceed", "--w", "5")]
    [InlineData("must be at least 1, got 0", "--schedule", "1f1b", "--chunks", "0")]
    public async Task Bad_arguments_are_one_error_line_and_exit_1(string message, params string[] args)
    {
        var (exit, output, error) = await CliRun.RunAsync(["pipeline-schedule", .. args]);
        Assert.Equal(1, exit);
        Assert.Empty(output);
        Assert.StartsWith("error: ", error, StringComparison.Ordinal);
        Assert.Contains(message, error, StringComparison.Ordinal);
        Assert.Single(error.Trim().Split('\n'));
    }

    [Fact]
    public async Task Unknown_schedule_is_a_usage_error()
    {
        var (exit, _, error) = await CliRun.RunAsync("pipeline-schedule", "--schedule", "gpipe");
        Assert.Equal(1, exit);
        Assert.Contains("gpipe", error, StringComparison.Ordinal);
    }
}
