namespace DeepSeek.Runtime.Compute.Cpu;

public sealed partial class CpuBackend
{
    /// <summary>
    /// Multiply-adds one part must have before an op is split: waking a parked worker costs tens of microseconds on a
    /// loaded machine, about what 64K fp32 FMAs take on one AVX-512 core, so smaller ops run faster inline.
    /// </summary>
    internal const long MinWorkPerPart = 1 << 16;

    /// <summary>Parts an op of <paramref name="work"/> multiply-adds over <paramref name="items"/> independent items is split into (1 = inline).</summary>
    private int PartsFor(long work, int items) =>
        Threads <= 1 ? 1 : (int)Math.Clamp(Math.Min(work / MinWorkPerPart, items), 1, Threads);

    /// <summary>
    /// Runs <paramref name="job"/> in <paramref name="parts"/> parts on the worker pool, or inline as a single part when
    /// that is all it needs or the pool is busy with another caller's op. Returns after every part finished.
    /// </summary>
    private void Dispatch(ICpuJob job, int parts)
    {
        if (parts > 1)
        {
            var pool = _pool ??= CpuWorkerPool.Shared(Threads);
            if (pool.TryAcquire())
            {
                try
                {
                    pool.Run(job, parts);
                    return;
                }
                finally
                {
                    pool.Release();
                }
            }
        }
        job.Execute(0, 1);
    }

    /// <summary>Items [start, end) of part <paramref name="part"/> when <paramref name="count"/> items are split into <paramref name="parts"/>.</summary>
    internal static (int Start, int End) Split(int count, int part, int parts) =>
        ((int)((long)count * part / parts), (int)((long)count * (part + 1) / parts));
}
