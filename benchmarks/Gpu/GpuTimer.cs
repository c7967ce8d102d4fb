using DeepSeek.Interop.Cuda;

namespace DeepSeek.Benchmarks.Gpu;

/// <summary>
/// Times a launch with CUDA events on the legacy default stream: two warm-up launches (JIT and caches), a calibration
/// launch, then <see cref="Repetitions"/> repetitions of enough back-to-back launches to fill the target GPU time;
/// the median time per launch is reported, so launch overhead is amortised and one slow repetition does not count.
/// </summary>
public sealed class GpuTimer(CudaContext context, double targetMs, int maxLaunches = 1000)
{
    /// <summary>Timed repetitions.</summary>
    public const int Repetitions = 5;

    /// <summary>Milliseconds of GPU time per call of <paramref name="launch"/>.</summary>
    public double Measure(Action launch)
    {
        ArgumentNullException.ThrowIfNull(launch);
        using var start = context.CreateEvent();
        using var end = context.CreateEvent();
        launch();
        launch();
        context.Synchronize();
        var once = Time(start, end, launch, 1);
        var count = (int)Math.Clamp(Math.Ceiling(targetMs / Math.Max(once, 1e-3)), 1, Math.Max(1, maxLaunches));
        var times = new double[Repetitions];
        for (var r = 0; r < Repetitions; r++) times[r] = Time(start, end, launch, count) / count;
        Array.Sort(times);
        return times[Repetitions / 2];
    }

    private static double Time(CudaEvent start, CudaEvent end, Action launch, int count)
    {
        start.Record();
        for (var i = 0; i < count; i++) launch();
        end.Record();
        end.Synchronize();
        return CudaEvent.ElapsedMilliseconds(start, end);
    }
}
