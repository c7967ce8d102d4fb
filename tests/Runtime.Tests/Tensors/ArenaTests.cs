using DeepSeek.Runtime.Tensors;

namespace DeepSeek.Runtime.Tests.Tensors;

public class ArenaTests
{
    [Fact]
    public unsafe void Buffers_are_aligned_disjoint_and_zeroed()
    {
        var plan = new ArenaPlan();
        var x = plan.Add<float>("x", 3);          // (B=1, T=3)
        var ids = plan.Add<int>("ids", 5);
        var bytes = plan.Add<byte>("codes", 129);
        var big = plan.Add<double>("big", 1000);
        var empty = plan.Add<float>("empty", 0);
        Assert.Equal(5, plan.Buffers.Count);
        Assert.Equal(0, plan.TotalBytes % 64);

        using var arena = new Arena(plan);
        Assert.Equal(plan.TotalBytes, arena.Bytes);
        Assert.Equal(0, arena.Address % 64);
        var spans = new (long Start, long End)[]
        {
            Range(arena.Span<float>(x)), Range(arena.Span<int>(ids)), Range(arena.Span<byte>(bytes)), Range(arena.Span<double>(big)),
        };
        Assert.Equal(3, arena.Span<float>(x).Length);
        Assert.Equal(129, arena.Span<byte>(bytes).Length);
        Assert.Equal(0, arena.Span<float>(empty).Length);
        for (var i = 0; i < spans.Length; i++)
        {
            Assert.Equal(0, spans[i].Start % 64);
            Assert.True(spans[i].Start >= arena.Address && spans[i].End <= arena.Address + arena.Bytes);
            for (var j = i + 1; j < spans.Length; j++)
                Assert.True(spans[i].End <= spans[j].Start || spans[j].End <= spans[i].Start, $"buffers {i} and {j} overlap");
        }
        for (var i = 0; i < plan.Buffers.Count; i++)
        {
            Assert.Equal(0, plan.Buffers[i].Offset % 64);
            if (i > 0) Assert.True(plan.Buffers[i].Offset >= plan.Buffers[i - 1].Offset + plan.Buffers[i - 1].Bytes);
        }
        Assert.Equal(("big", 1000L * 8), (plan.Buffers[3].Name, plan.Buffers[3].Bytes));
        Assert.All(arena.Span<double>(big).ToArray(), v => Assert.Equal(0.0, v));

        arena.Span<double>(big).Fill(1.5);
        arena.Span<float>(x).Fill(2f);
        Assert.Equal(1.5, arena.Span<double>(big)[999]);
        arena.Clear();
        Assert.Equal(0.0, arena.Span<double>(big)[999]);
        Assert.Equal(0f, arena.Span<float>(x)[2]);

        static (long, long) Range<T>(Span<T> s) where T : unmanaged
        {
            fixed (T* p = s) return ((long)p, (long)p + (long)s.Length * sizeof(T));
        }
    }

    [Fact]
    public void Wrong_type_or_foreign_id_throws()
    {
        var plan = new ArenaPlan();
        var x = plan.Add<float>("x", 4);
        var other = new ArenaPlan();
        var y = other.Add<float>("y", 4);
        using var arena = new Arena(plan);
        var ex = Assert.Throws<ArgumentException>(() => arena.Span<int>(x));
        Assert.Contains("'x'", ex.Message);
        Assert.Throws<ArgumentException>(() => arena.Span<float>(y));
        Assert.Throws<ArgumentException>(() => arena.View<uint>(x, Shape.Of(4)));
    }

    [Fact]
    public void Disposed_arena_throws_object_disposed()
    {
        var plan = new ArenaPlan();
        var x = plan.Add<float>("x", 4);
        var arena = new Arena(plan);
        arena.Dispose();
        arena.Dispose(); // idempotent
        Assert.True(arena.IsDisposed);
        Assert.Throws<ObjectDisposedException>(() => arena.Span<float>(x));
        Assert.Throws<ObjectDisposedException>(() => arena.View<float>(x, Shape.Of(4)));
        Assert.Throws<ObjectDisposedException>(() => arena.Clear());
    }

    [Fact]
    public void View_shape_must_fit()
    {
        var plan = new ArenaPlan();
        var h = plan.Add<float>("h", 2 * 3 * 4); // (B, T, C) = (2, 3, 4)
        using var arena = new Arena(plan);
        var full = arena.View<float>(h, Shape.Of(2, 3, 4));
        Assert.Equal(24, full.ElementCount);
        Assert.Same(arena, full.Owner);
        full[1, 2, 3] = 9f;
        Assert.Equal(9f, arena.Span<float>(h)[23]);
        var shorter = arena.View<float>(h, Shape.Of(2, 2, 4)); // a shorter sequence than planned
        Assert.Equal(16, shorter.ElementCount);
        var ex = Assert.Throws<ArgumentException>(() => arena.View<float>(h, Shape.Of(2, 3, 5)));
        Assert.Contains("at most 24", ex.Message);
        Assert.Throws<ArgumentException>(() => arena.View<float>(h, new Shape(long.MaxValue, 4)));
    }

    [Fact]
    public void Plan_validates_and_freezes()
    {
        var plan = new ArenaPlan();
        Assert.Throws<ArgumentOutOfRangeException>(() => plan.Add<float>("neg", -1));
        Assert.Throws<ArgumentException>(() => plan.Add<float>("", 1));
        Assert.Throws<ArgumentException>(() => plan.Add<double>("huge", long.MaxValue / 4));
        var a = plan.Add<float>("a", 1);
        Assert.Equal(64, plan.TotalBytes);
        Assert.Equal(typeof(float), plan.ElementType(a));
        Assert.Equal(1, plan.Count(a));
        using var arena = new Arena(plan);
        Assert.True(plan.IsFrozen);
        Assert.Throws<InvalidOperationException>(() => plan.Add<float>("late", 1));
        using var empty = new Arena(new ArenaPlan());
        Assert.Equal(0, empty.Bytes);
    }

    [Fact]
    public void Cache_returns_one_arena_per_key_and_plans_each_key_once_under_contention()
    {
        var planCalls = new int[8];
        using var cache = new ArenaCache<int>(key =>
        {
            Interlocked.Increment(ref planCalls[key]);
            Thread.Sleep(5); // widen the race window
            var plan = new ArenaPlan();
            plan.Add<float>("x", 16 * (key + 1));
            return plan;
        });
        var seen = new Arena[8];
        var mismatch = 0;
        Parallel.For(0, 2000, new ParallelOptions { MaxDegreeOfParallelism = 16 }, i =>
        {
            var key = i % 8;
            var arena = cache.Get(key);
            var prior = Interlocked.CompareExchange(ref seen[key], arena, null);
            if (prior is not null && !ReferenceEquals(prior, arena)) Interlocked.Increment(ref mismatch);
        });
        Assert.Equal(0, mismatch);
        Assert.All(planCalls, n => Assert.Equal(1, n));
        Assert.Equal(8, cache.Count);
        Assert.Same(cache.Get(3), cache.Get(3));
        Assert.NotSame(cache.Get(3), cache.Get(4));
        Assert.Equal(64 * 4, cache.Get(3).Bytes);
    }

    [Fact]
    public void Cache_retries_after_a_failing_plan_and_disposes_its_arenas()
    {
        var calls = 0;
        var cache = new ArenaCache<string>(key =>
        {
            if (Interlocked.Increment(ref calls) == 1) throw new InvalidOperationException("first plan fails");
            var plan = new ArenaPlan();
            plan.Add<byte>(key, 10);
            return plan;
        });
        Assert.Throws<InvalidOperationException>(() => cache.Get("a"));
        var arena = cache.Get("a");
        Assert.Equal(2, calls);
        cache.Dispose();
        Assert.True(arena.IsDisposed);
        Assert.Throws<ObjectDisposedException>(() => cache.Get("a"));
    }
}
