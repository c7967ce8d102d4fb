using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using DeepSeek.Runtime.Diagnostics;

namespace DeepSeek.Benchmarks.Kernels;

/// <summary>Threads and machine limits shared by every suite, and the BenchmarkDotNet configuration that reports against them.</summary>
internal static class KernelBenchConfig
{
    /// <summary>CPU threads the kernels run on (<c>DEEPSEEK_BENCH_THREADS</c>, default every core).</summary>
    public static int Threads { get; } = int.TryParse(Environment.GetEnvironmentVariable("DEEPSEEK_BENCH_THREADS"), out var t) && t > 0 ? t : Environment.ProcessorCount;

    /// <summary>
    /// Bytes of the bandwidth probe's buffer (<c>DEEPSEEK_BENCH_PROBE_MB</c>, default 4096 MiB): on the 2-core Zen 4 machines
    /// this project runs on, buffers up to ~1–2 GiB read faster than DRAM (some host-side cache) and only a few GiB read
    /// at the steady ~30 GB/s that a multi-GB checkpoint streams at.
    /// </summary>
    public static long ProbeBytes { get; } = (long.TryParse(Environment.GetEnvironmentVariable("DEEPSEEK_BENCH_PROBE_MB"), out var mb) && mb > 0 ? mb : 4096) << 20;

    private static readonly Lazy<MachineLimits> s_limits = new(() => MachineLimits.Measure(Threads, TimeSpan.FromSeconds(1), ProbeBytes));

    /// <summary>This machine's streaming bandwidth and FMA peak on <see cref="Threads"/> threads, measured once.</summary>
    public static MachineLimits Limits => s_limits.Value;

    /// <summary>In-process runs (no generated project to restore offline), plus the throughput and roofline columns.</summary>
    public static IConfig Create(bool quick)
    {
        var job = (quick ? Job.ShortRun : Job.Default).WithToolchain(InProcessEmitToolchain.Instance);
        return DefaultConfig.Instance
            .AddJob(job)
            .AddColumn(RooflineColumn.Bandwidth, RooflineColumn.Flops, RooflineColumn.Fraction)
            .WithOptions(ConfigOptions.DisableOptimizationsValidator);
    }
}
