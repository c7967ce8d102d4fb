// SFT throughput on a tiny checkpoint as a fraction of this machine's measured single-thread FMA peak (MFU).
//
//   dotnet run -c Release --project benchmarks/Training [-- --model tests/TestData/models/tiny-v3 --batch 8 --seq-len 64 --steps 8]
//
// Model FLOPs per trained token = 6 × the parameters a token computes with (forward 2, backward 4; attention scores
// and the MTP module's work are not counted, so the MFU is a lower bound). Compare with PyTorch on the same batch:
// tests/reference/bench_training.py.
using System.Diagnostics;
using System.Numerics;
using System.Runtime.Intrinsics;
using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Training;
using DeepSeek.Runtime.Training.Sft;

var modelDir = Arg("--model", "tests/TestData/models/tiny-v3");
int batch = int.Parse(Arg("--batch", "8")), length = int.Parse(Arg("--seq-len", "64")), steps = int.Parse(Arg("--steps", "8"));

var peak = FmaPeakGflops();
Console.WriteLine($"FMA peak (1 thread, {(Vector512.IsHardwareAccelerated ? "Vector512" : "Vector256")}): {peak:F1} GFLOP/s");

using var checkpoint = Checkpoint.Open(modelDir);
var parameters = ModelParameters<float>.Load(WeightMap.Bind(checkpoint));
var rng = new Random(1);
var data = Enumerable.Range(0, batch).Select(_ => new TrainingSequence(Enumerable.Range(0, length).Select(_ => rng.Next(2, checkpoint.Config.VocabSize)).ToArray())).ToList();
// Managed bytes allocated by the training thread from the end of step 1 (warm-up) to the end of the last step.
long allocatedAfterWarmup = 0, allocatedAtEnd = 0;
var history = new SftTrainer(parameters, length, new SftOptions { Steps = steps, BatchSize = batch, LearningRate = 1e-4 })
    .Train(data, new OnStep(step =>
    {
        if (step == 1) allocatedAfterWarmup = GC.GetAllocatedBytesForCurrentThread();
        if (step == steps) allocatedAtEnd = GC.GetAllocatedBytesForCurrentThread();
    }));
var rates = history.Skip(1).Select(h => h.TokensPerSecond).Order().ToList();
var median = rates[rates.Count / 2];
var active = CheckpointSummary.CountParameters(checkpoint.Config).ActivatedPerToken;
var mfu = median * 6 * active / (peak * 1e9);
Console.WriteLine($"SFT {checkpoint.Config.ModelType} batch {batch}×{length}: median {median:F0} tok/s over {rates.Count} steps; {active:N0} active parameters → {median * 6 * active / 1e9:F2} GFLOP/s = MFU {mfu:P1}");
if (steps > 1) Console.WriteLine($"allocated after warm-up: {(allocatedAtEnd - allocatedAfterWarmup) / (double)(steps - 1):F0} bytes per step");
return 0;

string Arg(string name, string fallback)
{
    var i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
}

// 8 independent FMA chains keep both FMA ports busy; 2 FLOPs per lane per FMA.
static double FmaPeakGflops()
{
    const int iterations = 20_000_000;
    double best = 0;
    for (var run = 0; run < 3; run++)
    {
        var sw = Stopwatch.StartNew();
        double flops;
        if (Vector512.IsHardwareAccelerated)
        {
            Vector512<float> a0 = Vector512.Create(1f), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
            var m = Vector512.Create(0.999999f);
            var c = Vector512.Create(1e-7f);
            for (var i = 0; i < iterations; i++)
            {
                a0 = Vector512.FusedMultiplyAdd(a0, m, c); a1 = Vector512.FusedMultiplyAdd(a1, m, c);
                a2 = Vector512.FusedMultiplyAdd(a2, m, c); a3 = Vector512.FusedMultiplyAdd(a3, m, c);
                a4 = Vector512.FusedMultiplyAdd(a4, m, c); a5 = Vector512.FusedMultiplyAdd(a5, m, c);
                a6 = Vector512.FusedMultiplyAdd(a6, m, c); a7 = Vector512.FusedMultiplyAdd(a7, m, c);
            }
            GC.KeepAlive(Vector512.Sum(a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7));
            flops = 2.0 * 16 * 8 * iterations;
        }
        else
        {
            Vector256<float> a0 = Vector256.Create(1f), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
            var m = Vector256.Create(0.999999f);
            var c = Vector256.Create(1e-7f);
            for (var i = 0; i < iterations; i++)
            {
                a0 = Vector256.FusedMultiplyAdd(a0, m, c); a1 = Vector256.FusedMultiplyAdd(a1, m, c);
                a2 = Vector256.FusedMultiplyAdd(a2, m, c); a3 = Vector256.FusedMultiplyAdd(a3, m, c);
                a4 = Vector256.FusedMultiplyAdd(a4, m, c); a5 = Vector256.FusedMultiplyAdd(a5, m, c);
                a6 = Vector256.FusedMultiplyAdd(a6, m, c); a7 = Vector256.FusedMultiplyAdd(a7, m, c);
            }
            GC.KeepAlive(Vector256.Sum(a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7));
            flops = 2.0 * 8 * 8 * iterations;
        }
        best = Math.Max(best, flops / sw.Elapsed.TotalSeconds / 1e9);
    }
    return best;
}

sealed class OnStep(Action<int> action) : IProgress<TrainingProgress>
{
    public void Report(TrainingProgress value) => action(value.Step);
}
