using DeepSeek.Runtime.Diagnostics;

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
}
