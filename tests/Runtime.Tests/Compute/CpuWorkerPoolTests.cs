using DeepSeek.Runtime.Compute.Cpu;

namespace DeepSeek.Runtime.Tests.Compute;

public sealed class CpuWorkerPoolTests
{
    private sealed class CountingJob(int items) : ICpuJob
    {
        public readonly int[] Hits = new int[items];
        public readonly int[] Threads = new int[items];

        public void Execute(int part, int parts)
        {
            var (start, end) = CpuBackend.Split(Hits.Length, part, parts);
            for (var i = start; i < end; i++)
            {
                Interlocked.Increment(ref Hits[i]);
                Threads[i] = Environment.CurrentManagedThreadId;
            }
        }
    }

    private sealed class FailingJob : ICpuJob
    {
        public void Execute(int part, int parts)
        {
            if (part == parts - 1) throw new InvalidOperationException($"part {part} failed");
        }
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(3, 3)]
    [InlineData(3, 8)]   // more parts asked than threads: clamped, every item still covered once
    [InlineData(4, 2)]
    public void Every_item_runs_exactly_once(int parallelism, int parts)
    {
        using var pool = new CpuWorkerPool(parallelism);
        for (var round = 0; round < 50; round++)
        {
            var job = new CountingJob(1000 + round);
            Assert.True(parallelism == 1 || pool.TryAcquire());
            try
            {
                pool.Run(job, parts);
            }
            finally
            {
                pool.Release();
            }
            Assert.All(job.Hits, h => Assert.Equal(1, h));
        }
    }

    [Fact]
    public void Parts_run_on_more_than_one_thread()
    {
        using var pool = new CpuWorkerPool(2);
        var job = new CountingJob(10);
        Assert.True(pool.TryAcquire());
        pool.Run(job, 2);
        pool.Release();
        Assert.Equal(2, job.Threads.Distinct().Count());
    }

    [Fact]
    public void A_worker_exception_reaches_the_caller_and_the_pool_keeps_working()
    {
        using var pool = new CpuWorkerPool(2);
        Assert.True(pool.TryAcquire());
        var e = Assert.Throws<InvalidOperationException>(() => pool.Run(new FailingJob(), 2));
        Assert.Contains("part 1", e.Message);
        var job = new CountingJob(100);
        pool.Run(job, 2);
        pool.Release();
        Assert.All(job.Hits, h => Assert.Equal(1, h));
    }

    [Fact]
    public void A_second_caller_finds_the_pool_busy()
    {
        using var pool = new CpuWorkerPool(2);
        Assert.True(pool.TryAcquire());
        Assert.False(pool.TryAcquire());
        pool.Release();
        Assert.True(pool.TryAcquire());
        pool.Release();
    }
}
