using System.Runtime.ExceptionServices;

namespace DeepSeek.Runtime.Compute.Cpu;

/// <summary>A kernel split into parts the pool runs concurrently; part p of n covers a static range the kernel derives from (p, n).</summary>
internal interface ICpuJob
{
    /// <summary>Runs part <paramref name="part"/> of <paramref name="parts"/>.</summary>
    void Execute(int part, int parts);
}

/// <summary>
/// Persistent workers for the CPU kernels (issue 5, threading): <c>Parallel.For</c> costs microseconds of scheduling and
/// allocates per call, which at decode sizes is more than the op itself. The caller runs part 0 and
/// <c>Parallelism − 1</c> long-lived threads run the rest; the split is static (part p always covers the same rows), so a
/// value never depends on which thread computed it. Waiting is <see cref="ManualResetEventSlim"/>: a short spin, then a
/// kernel wait, so idle or oversubscribed workers back off instead of burning the cores other processes need.
/// One job at a time: a second caller that finds the pool busy (another generator on the same backend) runs its job
/// inline, which is always correct because parts are independent.
/// Pools are shared process-wide per parallelism (<see cref="Shared"/>), like the .NET thread pool: backends are cheap,
/// often undisposed in tests and short-lived tools, and must not each leave threads behind.
/// </summary>
internal sealed class CpuWorkerPool : IDisposable
{
    private static readonly Dictionary<int, CpuWorkerPool> s_shared = [];
    // Spins before a wait falls back to the kernel: covers the gap between back-to-back ops of one forward pass
    // without holding a core for long when nothing comes.
    private const int SpinCount = 100;

    private readonly Thread[] _threads;
    private readonly ManualResetEventSlim[] _wake;
    private readonly ManualResetEventSlim _done = new(false, SpinCount);
    private ICpuJob? _job;
    private int _parts;
    private int _pending;
    private int _busy;
    private volatile bool _disposed;
    private ExceptionDispatchInfo? _failure;

    /// <summary>Starts <paramref name="parallelism"/> − 1 workers (the caller is the remaining one).</summary>
    public CpuWorkerPool(int parallelism)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(parallelism, 1);
        Parallelism = parallelism;
        _threads = new Thread[parallelism - 1];
        _wake = new ManualResetEventSlim[parallelism - 1];
        for (var i = 0; i < _threads.Length; i++)
        {
            _wake[i] = new ManualResetEventSlim(false, SpinCount);
            var index = i + 1;
            _threads[i] = new Thread(() => WorkerLoop(index)) { IsBackground = true, Name = $"deepseek-cpu-{index}" };
            _threads[i].Start();
        }
    }

    /// <summary>The process-wide pool of <paramref name="parallelism"/> threads, started on first use.</summary>
    public static CpuWorkerPool Shared(int parallelism)
    {
        lock (s_shared)
        {
            if (!s_shared.TryGetValue(parallelism, out var pool)) s_shared[parallelism] = pool = new CpuWorkerPool(parallelism);
            return pool;
        }
    }

    /// <summary>Threads a job can use, the caller's included.</summary>
    public int Parallelism { get; }

    /// <summary>Takes the pool for one job; false when another thread holds it (run inline then).</summary>
    public bool TryAcquire() => Parallelism > 1 && !_disposed && Interlocked.CompareExchange(ref _busy, 1, 0) == 0;

    /// <summary>Gives the pool back after <see cref="Run"/>.</summary>
    public void Release() => Volatile.Write(ref _busy, 0);

    /// <summary>Runs parts 0 … <paramref name="parts"/> − 1 of <paramref name="job"/> and returns when all are done. Call between <see cref="TryAcquire"/> and <see cref="Release"/>.</summary>
    public void Run(ICpuJob job, int parts)
    {
        parts = Math.Clamp(parts, 1, Parallelism);
        if (parts == 1)
        {
            job.Execute(0, 1);
            return;
        }
        _job = job;
        _parts = parts;
        _failure = null;
        _done.Reset();
        Volatile.Write(ref _pending, parts - 1);
        for (var i = 0; i < parts - 1; i++) _wake[i].Set();
        try
        {
            job.Execute(0, parts);
        }
        finally
        {
            _done.Wait();
            _job = null;
        }
        _failure?.Throw();
    }

    private void WorkerLoop(int index)
    {
        var wake = _wake[index - 1];
        while (true)
        {
            wake.Wait();
            wake.Reset();
            if (_disposed) return;
            try
            {
                _job!.Execute(index, _parts);
            }
            catch (Exception e)
            {
                Interlocked.CompareExchange(ref _failure, ExceptionDispatchInfo.Capture(e), null);
            }
            if (Interlocked.Decrement(ref _pending) == 0) _done.Set();
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (var w in _wake) w.Set();
        foreach (var t in _threads) t.Join();
        foreach (var w in _wake) w.Dispose();
        _done.Dispose();
    }
}
