using DeepSeek.Runtime.Compute.Cpu;
using DeepSeek.Runtime.Generation;
using DeepSeek.Runtime.Model;

namespace DeepSeek.Runtime.Tests.Generation;

public sealed class KvCacheTruncateTests
{
    [Fact]
    public void Truncate_drops_the_tail_so_the_next_append_reuses_its_position()
    {
        using var backend = new CpuBackend(1);
        var cache = new KvCache(backend, SpeculationCheckpoints.TinyConfig, MlaMode.Absorbed, sequences: 2, maxLength: 8);
        cache.Append([0, 0, 0, 1]);
        cache.Truncate(0, 2);
        Assert.Equal(2, cache.Length(0));
        Assert.Equal(1, cache.Length(1));
        var slots = cache.Append([0, 1]);
        Assert.Equal(2, slots[0].Position);
        Assert.Equal(2, slots[0].CacheRow);
        Assert.Equal(1, slots[1].Position);
        Assert.Equal(8 + 1, slots[1].CacheRow);
        cache.Truncate(1, 2);    // a no-op truncation is allowed
        Assert.Equal(2, cache.Length(1));
    }

    [Fact]
    public void Truncate_rejects_growing_negative_lengths_and_unknown_sequences()
    {
        using var backend = new CpuBackend(1);
        var cache = new KvCache(backend, SpeculationCheckpoints.TinyConfig, MlaMode.Absorbed, sequences: 1, maxLength: 8);
        cache.Append([0, 0]);
        Assert.Throws<ArgumentOutOfRangeException>(() => cache.Truncate(0, 3));
        Assert.Throws<ArgumentOutOfRangeException>(() => cache.Truncate(0, -1));
        Assert.Throws<ArgumentOutOfRangeException>(() => cache.Truncate(1, 0));
        Assert.Equal(2, cache.Length(0));
    }
}
