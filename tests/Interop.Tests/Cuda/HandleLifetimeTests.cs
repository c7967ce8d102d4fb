using System.Runtime.CompilerServices;
using DeepSeek.Interop.Cuda;

namespace DeepSeek.Interop.Tests.Cuda;

public class HandleLifetimeTests
{
    [Fact]
    public void Creating_a_context_queries_the_device_and_retains_its_primary_context_once()
    {
        using var driver = new FakeCudaDriver { ComputeCapability = 89 };
        using (var ctx = CudaContext.Create(driver, 0))
        {
            Assert.Equal("Fake GPU", ctx.Device.Name);
            Assert.Equal(89, ctx.Device.ComputeCapability);
            Assert.Equal(132, ctx.Device.MultiprocessorCount);
            Assert.Equal(80L << 30, ctx.Device.TotalMemory);
            Assert.Equal(1, driver.Retains);
            Assert.Equal(0, driver.Releases);
        }
        Assert.Equal(1, driver.Releases);
    }

    [Fact]
    public void Disposing_twice_frees_once()
    {
        using var driver = new FakeCudaDriver();
        using var ctx = CudaContext.Create(driver, 0);
        var buffer = ctx.Allocate<float>(100);
        var stream = ctx.CreateStream();
        var evt = ctx.CreateEvent();
        var pinned = ctx.AllocatePinned<int>(10);
        Assert.Equal((1, 1, 1, 1), (driver.LiveDevice, driver.LiveStreams, driver.LiveEvents, driver.LiveHost));
        for (var i = 0; i < 2; i++)
        {
            buffer.Dispose();
            stream.Dispose();
            evt.Dispose();
            pinned.Dispose();
        }
        Assert.Equal((0, 0, 0, 0), (driver.LiveDevice, driver.LiveStreams, driver.LiveEvents, driver.LiveHost));
        Assert.Equal(0, driver.BadFrees);
        Assert.Single(driver.Calls, c => c == "cuMemFree_v2");
        Assert.Throws<ObjectDisposedException>(() => buffer.Pointer);
    }

    [Fact]
    public void The_context_outlives_its_children_whatever_the_dispose_order()
    {
        using var driver = new FakeCudaDriver();
        var ctx = CudaContext.Create(driver, 0);
        var buffer = ctx.Allocate<byte>(64);
        var module = ctx.LoadModule("m", ".version 7.8\n.target sm_90\n.address_size 64\n.visible .entry k(\n.param .u64 k_param_0\n)\n{\nret;\n}\n"u8);
        ctx.Dispose();
        Assert.Equal(0, driver.Releases);            // buffer and module still hold the context
        buffer.Dispose();
        Assert.Equal(0, driver.Releases);
        module.Dispose();
        Assert.Equal(1, driver.Releases);            // released after the last child, never before
        var calls = driver.Calls;
        Assert.True(calls.LastIndexOf("cuMemFree_v2") < calls.LastIndexOf("cuDevicePrimaryCtxRelease_v2"));
        Assert.True(calls.LastIndexOf("cuModuleUnload") < calls.LastIndexOf("cuDevicePrimaryCtxRelease_v2"));
        Assert.Equal(0, driver.BadFrees);
    }

    [Fact]
    public void A_child_makes_its_context_current_before_releasing_itself()
    {
        using var driver = new FakeCudaDriver();
        using var ctx = CudaContext.Create(driver, 0);
        var buffer = ctx.Allocate<int>(8);
        driver.Calls.Clear();
        buffer.Dispose();
        Assert.Equal(["cuCtxSetCurrent", "cuMemFree_v2"], driver.Calls);
    }

    [Fact]
    public void An_abandoned_allocation_is_freed_by_its_finalizer()
    {
        using var driver = new FakeCudaDriver();
        using var ctx = CudaContext.Create(driver, 0);
        Abandon(ctx);
        Assert.Equal(4, driver.LiveDevice);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        Assert.Equal(0, driver.LiveDevice);
        Assert.Equal(0, driver.BadFrees);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void Abandon(CudaContext ctx)
    {
        for (var i = 0; i < 4; i++) _ = ctx.Allocate<float>(16);
    }

    [Fact]
    public void A_failed_allocation_leaves_nothing_to_free()
    {
        using var driver = new FakeCudaDriver();
        using var ctx = CudaContext.Create(driver, 0);
        driver.Failures["cuMemAlloc_v2"] = CuResult.OutOfMemory;
        Assert.Throws<CudaException>(() => ctx.Allocate<float>(10));
        driver.Failures.Clear();
        ctx.Dispose();
        Assert.Equal(1, driver.Releases);
        Assert.DoesNotContain("cuMemFree_v2", driver.Calls);
    }

    [Fact]
    public void Empty_buffers_allocate_nothing()
    {
        using var driver = new FakeCudaDriver();
        using var ctx = CudaContext.Create(driver, 0);
        using var b = ctx.Allocate<float>(0);
        b.CopyFrom([]);
        b.Clear();
        Assert.Equal(0UL, b.Pointer);
        Assert.DoesNotContain("cuMemAlloc_v2", driver.Calls);
    }

    [Fact]
    public void Copies_go_straight_between_spans_and_device_memory_and_are_bounds_checked()
    {
        using var driver = new FakeCudaDriver();
        using var ctx = CudaContext.Create(driver, 0);
        using var b = ctx.Allocate<int>(8);
        b.CopyFrom([1, 2, 3], offset: 5);
        var back = new int[8];
        b.CopyTo(back);
        Assert.Equal([0, 0, 0, 0, 0, 1, 2, 3], back);
        Assert.Throws<ArgumentOutOfRangeException>(() => b.CopyFrom([1, 2, 3, 4], offset: 5));
        Assert.Throws<ArgumentOutOfRangeException>(() => b.CopyTo(new int[9]));
        Assert.Equal(0, driver.BadCopies);
    }

    [Fact]
    public void Asynchronous_copies_use_pinned_memory_and_the_stream()
    {
        using var driver = new FakeCudaDriver();
        using var ctx = CudaContext.Create(driver, 0);
        using var stream = ctx.CreateStream();
        using var pinned = ctx.AllocatePinned<float>(4);
        using var device = ctx.Allocate<float>(4);
        float[] values = [1.5f, -2, 3, 4];
        values.CopyTo(pinned.Span);
        device.CopyFromAsync(pinned, stream);
        pinned.Span.Clear();
        device.CopyToAsync(pinned, stream);
        stream.Synchronize();
        Assert.Equal(values, pinned.Span.ToArray());
        Assert.Contains("cuMemcpyHtoDAsync_v2", driver.Calls);
        Assert.Contains("cuMemcpyDtoHAsync_v2", driver.Calls);
    }

    [Fact]
    public void Events_measure_elapsed_time()
    {
        using var driver = new FakeCudaDriver();
        using var ctx = CudaContext.Create(driver, 0);
        using var start = ctx.CreateEvent();
        using var end = ctx.CreateEvent();
        start.Record();
        end.Record();
        end.Synchronize();
        Assert.Equal(1.5f, CudaEvent.ElapsedMilliseconds(start, end));
    }
}
