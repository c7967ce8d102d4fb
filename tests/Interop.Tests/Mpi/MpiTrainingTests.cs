using System.Diagnostics;
using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Training;

namespace DeepSeek.Interop.Tests.Mpi;

public sealed class MpiTrainingTests
{
    [MpiFact]
    public void Train_sft_under_mpirun_np_2_gives_the_single_process_weights() => TrainUnderMpirun();

    [MpiFact]
    public void Train_sft_with_expert_parallel_2_under_mpirun_np_2_gives_the_single_process_weights() => TrainUnderMpirun("--expert-parallel", "2");

    [MpiFact]
    public void Train_sft_with_pipeline_parallel_2_under_mpirun_np_2_gives_the_single_process_weights() => TrainUnderMpirun("--pipeline-parallel", "2");

    private static void TrainUnderMpirun(params string[] parallel)
    {
        var dir = Path.Combine(Path.GetTempPath(), "dsrt-mpi-" + Guid.NewGuid().ToString("N")[..10]);
        Directory.CreateDirectory(dir);
        try
        {
            var rng = new Random(1);
            File.WriteAllLines(Path.Combine(dir, "data.jsonl"), Enumerable.Range(0, 8)
                .Select(_ => "{\"tokens\":[" + string.Join(",", Enumerable.Range(0, 12).Select(_ => rng.Next(2, 250))) + "]}"));
            var model = Path.Combine(MpiRun.RepoRoot, "tests", "TestData", "models", "tiny-v3");
            string[] Train(string output, params string[] extra) =>
                ["dotnet", MpiRun.CliPath, "train", "sft", "--model", model, "--data", Path.Combine(dir, "data.jsonl"), "--out", Path.Combine(dir, output),
                 "--steps", "3", "--batch-size", "4", "--seq-len", "12", "--lr", "1e-4", "--save-dtype", "f32", "--save-every", "1", .. extra];

            var single = Train("single");
            using (var process = Process.Start(new ProcessStartInfo(single[0], single[1..]) { RedirectStandardOutput = true, RedirectStandardError = true })!)
            {
                var output = process.StandardOutput.ReadToEndAsync();
                Assert.True(process.WaitForExit(MpiRun.Bound), "single-process training did not end");
                Assert.True(process.ExitCode == 0, output.Result + process.StandardError.ReadToEnd());
            }
            var run = MpiRun.Start(2, Train("mpi", ["--parallel", "mpi", .. parallel]));
            Assert.True(run.ExitCode == 0, run.Output);
            Assert.Single(run.Output.Split('\n'), l => l.StartsWith("saved ", StringComparison.Ordinal));   // rank 0 alone writes

            using var a = Checkpoint.Open(Path.Combine(dir, "single"));
            using var b = Checkpoint.Open(Path.Combine(dir, "mpi"));
            var start = Checkpoint.Open(model);
            var wa = ModelParameters<float>.Load(WeightMap.Bind(a));
            var wb = ModelParameters<float>.Load(WeightMap.Bind(b));
            var w0 = ModelParameters<float>.Load(WeightMap.Bind(start));
            start.Dispose();
            var moved = 0;
            foreach (var (((name, want), (_, got)), (_, initial)) in wa.Tensors().Zip(wb.Tensors()).Zip(w0.Tensors()))
            {
                var norm = Math.Sqrt(want.Sum(v => (double)v * v));
                var delta = Math.Sqrt(want.Zip(got, (x, y) => (double)(x - y) * (x - y)).Sum());
                Assert.True(delta <= 1e-6 * norm, $"{name}: ‖Δ‖ {delta:G3} against ‖w‖ {norm:G3}");
                if (!want.AsSpan().SequenceEqual(initial)) moved++;
            }
            Assert.True(moved > 10, "training did not change the weights");
            Assert.True(File.Exists(Path.Combine(dir, "mpi", "checkpoints", "step-000003", "optimizer.safetensors")));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
