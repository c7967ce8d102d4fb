using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Tests;
using DeepSeek.Runtime.Training;

namespace DeepSeek.Cli.Tests.Commands;

/// <summary>`deepseek train sft --parallel inproc --pipeline-parallel P` against one process with the same global batch.</summary>
public sealed class TrainPipelineParallelTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private static string Model => RepoPaths.TestData("models", "tiny-v3");

    private string Data()
    {
        var rng = new Random(5);
        var path = _dir.File("data.jsonl");
        File.WriteAllLines(path, Enumerable.Range(0, 8).Select(_ => "{\"tokens\":[" + string.Join(",", Enumerable.Range(0, 12).Select(_ => rng.Next(2, 250))) + "]}"));
        return path;
    }

    private string[] Train(string data, string output, params string[] extra) =>
        ["train", "sft", "--model", Model, "--data", data, "--out", _dir.File(output), "--steps", "3", "--seq-len", "12",
         "--lr", "1e-4", "--balance-loss-alpha", "0.01", "--save-dtype", "f32", .. extra.Contains("--batch-size") ? extra : ["--batch-size", "4", .. extra]];

    [Theory]
    [InlineData("2")]                                     // DualPipe, the default for an even P
    [InlineData("2", "--pipeline-schedule", "1f1b")]
    [InlineData("3", "--pipeline-schedule", "1f1b")]      // tiny-v3 has 3 layers: one per stage
    [InlineData("2", "--ranks", "4", "--pipeline-schedule", "1f1b")]   // world 4 = P 2 × D 2
    public async Task Inproc_pipeline_parallel_gives_the_single_process_weights(string stages, params string[] schedule)
    {
        var data = Data();
        var single = await CliRun.RunAsync(Train(data, "single"));
        Assert.True(single.Exit == 0, single.Err);
        var pp = await CliRun.RunAsync(Train(data, "pp", ["--parallel", "inproc", .. schedule.Contains("--ranks") ? [] : new[] { "--ranks", stages }, "--pipeline-parallel", stages, .. schedule]));
        Assert.True(pp.Exit == 0, pp.Err);
        Assert.Contains("step 3/3", pp.Out);

        using var a = Checkpoint.Open(_dir.File("single"));
        using var b = Checkpoint.Open(_dir.File("pp"));
        using var start = Checkpoint.Open(Model);
        var wa = ModelParameters<float>.Load(WeightMap.Bind(a));
        var wb = ModelParameters<float>.Load(WeightMap.Bind(b));
        var w0 = ModelParameters<float>.Load(WeightMap.Bind(start));
        var moved = 0;
        foreach (var (((name, want), (_, got)), (_, initial)) in wa.Tensors().Zip(wb.Tensors()).Zip(w0.Tensors()))
        {
            // Per tensor: ‖Δ‖₂ ≤ 1e-6·‖w‖₂, as the data- and expert-parallel tests.
            var norm = Math.Sqrt(want.Sum(v => (double)v * v));
            var delta = Math.Sqrt(want.Zip(got, (x, y) => (double)(x - y) * (x - y)).Sum());
            Assert.True(delta <= 1e-6 * norm, $"{name}: ‖Δ‖ {delta:G3} against ‖w‖ {norm:G3}");
            if (!want.AsSpan().SequenceEqual(initial)) moved++;
        }
        // Every stage's tensors moved, so rank 0 really gathered the other stages' weights.
        Assert.True(moved > 20, $"training moved only {moved} tensors");
        Assert.Contains(wb.Tensors(), t => t.Name.StartsWith("model.layers.2.", StringComparison.Ordinal) && !t.Values.AsSpan().SequenceEqual(w0[t.Name]));
        Assert.False(wb["lm_head.weight"].AsSpan().SequenceEqual(w0["lm_head.weight"]));
    }

    [Theory]
    [InlineData("none", "2", "2", "--pipeline-parallel needs --parallel mpi or --parallel inproc")]
    [InlineData("inproc", "3", "2", "--pipeline-parallel 2 must divide the 3 in-process ranks (--ranks)")]
    [InlineData("inproc", "6", "2", "--batch-size 4 must divide over the 3 pipeline replicas")]
    [InlineData("inproc", "4", "2", "DualPipe needs an even number of micro-batches (chunks), at least 2 x ranks = 4", "--batch-size", "6")]
    [InlineData("inproc", "3", "3", "--pipeline-schedule dualpipe needs an even --pipeline-parallel", "--pipeline-schedule", "dualpipe")]
    [InlineData("inproc", "4", "4", "--pipeline-parallel 4: the model has only 3 decoder layers")]
    [InlineData("inproc", "2", "2", "DualPipe needs an even number of micro-batches", "--batch-size", "3")]
    [InlineData("inproc", "2", "2", "--pipeline-parallel cannot be combined with --expert-parallel", "--expert-parallel", "2")]
    [InlineData("inproc", "2", "2", "--pipeline-schedule: expected dualpipe or 1f1b, not 'gpipe'", "--pipeline-schedule", "gpipe")]
    [InlineData("inproc", "2", "2", "--lora-rank and --resume are single-process only", "--resume")]
    [InlineData("inproc", "2", "0", "--pipeline-parallel must be at least 1, not 0")]
    public async Task Layouts_that_do_not_fit_are_one_error_line(string parallel, string ranks, string stages, string message, params string[] extra)
    {
        var (exit, _, error) = await CliRun.RunAsync(Train(Data(), "bad", ["--parallel", parallel, "--ranks", ranks, "--pipeline-parallel", stages, .. extra]));
        Assert.Equal(1, exit);
        Assert.Contains(message, error);
        Assert.StartsWith("error: ", error);
        Assert.False(Directory.Exists(Path.Combine(_dir.File("bad"), "checkpoints")));
    }
}
