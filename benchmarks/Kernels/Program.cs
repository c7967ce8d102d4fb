// BenchmarkDotNet suites for the CPU kernels, each reported as GB/s, GFLOP/s and the fraction of this machine's
// measured roofline (MachineLimits: streaming-read bandwidth and fp32 FMA peak on the same threads).
//
//   dotnet run -c Release --project benchmarks/Kernels -- --filter '*'            full runs (minutes per suite)
//   dotnet run -c Release --project benchmarks/Kernels -- --quick --filter '*MatMul*'   BenchmarkDotNet's short job
//
// Environment: DEEPSEEK_BENCH_THREADS (default: every core), DEEPSEEK_BENCH_PROBE_MB (bandwidth probe buffer, 4096).
using BenchmarkDotNet.Running;
using DeepSeek.Benchmarks.Kernels;

var quick = args.Contains("--quick");
var rest = args.Where(a => a != "--quick").ToArray();
var limits = KernelBenchConfig.Limits;
Console.WriteLine($"threads {limits.Threads}: bandwidth {limits.BandwidthGBs:F1} GB/s ({KernelBenchConfig.ProbeBytes >> 20} MiB buffer), " +
                  $"FMA peak {limits.PeakGflops:F1} GFLOP/s (Vector{limits.VectorBits})");
BenchmarkSwitcher.FromAssembly(typeof(MatMulBenchmarks).Assembly).Run(rest, KernelBenchConfig.Create(quick));
return 0;
