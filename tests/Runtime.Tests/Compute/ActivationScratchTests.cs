using DeepSeek.Runtime.Compute;
using DeepSeek.Runtime.Compute.Cpu;

namespace DeepSeek.Runtime.Tests.Compute;

public sealed class ActivationScratchTests
{
    [Fact]
    public void Arrays_and_items_are_reused_per_size_and_the_oldest_sizes_are_forgotten()
    {
        using var backend = new CpuBackend(1);
        var scratch = new ActivationScratch(backend);
        var owner = new object();
        var first = scratch.Array<int>(owner, 0, 1);
        Assert.Same(first, scratch.Array<int>(owner, 0, 1));
        scratch.SetItem(owner, 0, 1, "one");

        // A server's prefill steps bring a new token count almost every time: 100 of them.
        var arrays = Enumerable.Range(2, 100).Select(n => { scratch.SetItem(owner, 0, n, $"{n}"); return scratch.Array<int>(owner, 0, n); }).ToList();

        var recent = Enumerable.Range(0, 100).TakeLast(ActivationScratch.RememberedSizes - 1).ToList();
        foreach (var i in recent)
        {
            Assert.Same(arrays[i], scratch.Array<int>(owner, 0, i + 2));
            Assert.Equal($"{i + 2}", scratch.Item<string>(owner, 0, i + 2));
        }
        Assert.NotSame(first, scratch.Array<int>(owner, 0, 1));   // forgotten, so a fresh one
        Assert.Null(scratch.Item<string>(owner, 0, 1));
        Assert.Equal(7, scratch.Array<int>(owner, 0, 7).Length);
    }
}
