using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Diagnostics;
using DeepSeek.Runtime.Tests.Checkpoints;

namespace DeepSeek.Runtime.Tests.Diagnostics;

/// <summary>The probes run and return plausible, finite numbers (their values are measurements, never asserted).</summary>
public sealed class MachineLimitsTests
{
    [Fact]
    public void Probes_return_positive_finite_rates()
    {
        var limits = MachineLimits.Measure(threads: 1, TimeSpan.FromMilliseconds(30), bandwidthBufferBytes: 16L << 20);
        Assert.Equal(1, limits.Threads);
        Assert.Contains(limits.VectorBits, new[] { 128, 256, 512 });
        Assert.True(double.IsFinite(limits.BandwidthGBs) && limits.BandwidthGBs > 0, $"{limits}");
        Assert.True(double.IsFinite(limits.PeakGflops) && limits.PeakGflops > 0, $"{limits}");
        Assert.True(MachineLimits.MeasureBandwidthGBs(2, 8L << 20, TimeSpan.FromMilliseconds(10)) > 0);
    }

    [Fact]
    public void Bad_arguments_are_rejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => MachineLimits.MeasureBandwidthGBs(0, 8L << 20, TimeSpan.Zero));
        Assert.Throws<ArgumentOutOfRangeException>(() => MachineLimits.MeasureBandwidthGBs(1, 1024, TimeSpan.Zero));
        Assert.Throws<ArgumentOutOfRangeException>(() => MachineLimits.MeasurePeakGflops(0, TimeSpan.Zero));
    }

    [Fact]
    public void Mapped_probe_reads_a_sharded_checkpoint()
    {
        using var dir = new TempDir();
        using var checkpoint = Checkpoint.Open(TinyCheckpoints.WriteFp8Sharded(dir));
        var gbs = MachineLimits.MeasureMappedBandwidthGBs(checkpoint, threads: 2, TimeSpan.FromMilliseconds(20));
        Assert.True(double.IsFinite(gbs) && gbs > 0, $"{gbs}");
        Assert.Throws<ArgumentOutOfRangeException>(() => MachineLimits.MeasureMappedBandwidthGBs(checkpoint, 0, TimeSpan.Zero));
    }

    [Fact]
    public void Bf16_dot_peak_is_measured_where_the_native_kernels_run_and_null_elsewhere()
    {
        var peak = MachineLimits.MeasureBf16DotPeakGflops(threads: 1, TimeSpan.FromMilliseconds(20));
        Assert.Equal(DeepSeek.Runtime.Compute.Cpu.NativeCpuKernels.IsAvailable, peak is not null);
        if (peak is { } p) Assert.True(double.IsFinite(p) && p > 0, $"{p}");
        Assert.Throws<ArgumentOutOfRangeException>(() => MachineLimits.MeasureBf16DotPeakGflops(0, TimeSpan.Zero));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(7)]
    public void Thread_shares_tile_the_tensor_bytes_exactly(int threads)
    {
        // Three regions with gaps between them (tensors of two shards); every byte in exactly one share, in order.
        (nint, long)[] regions = [(1000, 10), (2000, 1), (5000, 33)];
        var total = regions.Sum(r => r.Item2);
        var seen = new List<nint>();
        for (var t = 0; t < threads; t++)
            foreach (var (address, length) in MachineLimits.Share(regions, total * t / threads, total * (t + 1) / threads))
            {
                Assert.True(length > 0);
                for (var b = 0; b < length; b++) seen.Add(address + b);
            }
        var expected = regions.SelectMany(r => Enumerable.Range(0, (int)r.Item2).Select(b => r.Item1 + b));
        Assert.Equal(expected, seen);
    }
}
