using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Tests;
using DeepSeek.Runtime.Training;

namespace DeepSeek.Cli.Tests.Commands;

/// <summary>`deepseek train sft --parallel inproc --ranks N --expert-parallel E` against one process with the same global batch.</summary>
public sealed class TrainExpertParallelTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private static string Model => RepoPaths.TestData("models", "tiny-v3");

    private string Data()
    {
        var rng = new Random(3);
        var path = _dir.File("data.jsonl");
        File.WriteAllLines(path, Enumerable.Range(0, 8).Select(_ => "{\"tokens\":[" + string.Join(",", Enumerable.Range(0, 12).Select(_ => rng.Next(2, 250))) + "]}"));
        return path;
    }

    private string[] Train(string data, string output, params string[] extra) =>
        ["train", "sft", "--model", Model, "--data", data, "--out", _dir.File(output), "--steps", "3", "--batch-size", "4", "--seq-len", "12",
         "--lr", "1e-4", "--balance-loss-alpha", "0.01", "--save-dtype", "f32", .. extra];

    [Fact]
    public async Task Inproc_ranks_2_expert_parallel_2_gives_the_single_process_weights()
    {
        var data = Data();
        var single = await CliRun.RunAsync(Train(data, "single"));
        Assert.True(single.Exit == 0, single.Err);
        var ep = await CliRun.RunAsync(Train(data, "ep", "--parallel", "inproc", "--ranks", "2", "--expert-parallel", "2"));
        Assert.True(ep.Exit == 0, ep.Err);
        Assert.Contains("step 3/3", ep.Out);

        using var a = Checkpoint.Open(_dir.File("single"));
        using var b = Checkpoint.Open(_dir.File("ep"));
        using var start = Checkpoint.Open(Model);
        var wa = ModelParameters<float>.Load(WeightMap.Bind(a));
        var wb = ModelParameters<float>.Load(WeightMap.Bind(b));
        var w0 = ModelParameters<float>.Load(WeightMap.Bind(start));
        var movedExperts = 0;
        foreach (var (((name, want), (_, got)), (_, initial)) in wa.Tensors().Zip(wb.Tensors()).Zip(w0.Tensors()))
        {
            // Per tensor: ‖Δ‖₂ ≤ 1e-6·‖w‖₂, as the ZeRO-1 test.
            var norm = Math.Sqrt(want.Sum(v => (double)v * v));
            var delta = Math.Sqrt(want.Zip(got, (x, y) => (double)(x - y) * (x - y)).Sum());
            Assert.True(delta <= 1e-6 * norm, $"{name}: ‖Δ‖ {delta:G3} against ‖w‖ {norm:G3}");
            if (name.Contains(".experts.", StringComparison.Ordinal) && !want.AsSpan().SequenceEqual(initial)) movedExperts++;
        }
        Assert.True(movedExperts > 10, $"training moved only {movedExperts} expert tensors");
    }

    [Theory]
    [InlineData("none", "2", "2", "--expert-parallel needs --parallel mpi or --parallel inproc")]
    [InlineData("inproc", "2", "3", "--expert-parallel 3 must divide the model's 8 routed experts")]
    [InlineData("inproc", "2", "4", "--expert-parallel 4 must divide --ranks 2")]
    [InlineData("inproc", "4", "0", "--expert-parallel must be at least 1, not 0")]
    public async Task Layouts_that_do_not_fit_are_one_error_line(string parallel, string ranks, string expertParallel, string message)
    {
        var (exit, _, error) = await CliRun.RunAsync(Train(Data(), "bad", "--parallel", parallel, "--ranks", ranks, "--expert-parallel", expertParallel));
        Assert.Equal(1, exit);
        Assert.Contains(message, error);
        Assert.StartsWith("error: ", error);
        Assert.False(Directory.Exists(Path.Combine(_dir.File("bad"), "checkpoints")));
    }
}
