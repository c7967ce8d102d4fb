using DeepSeek.Interop.Cuda;
using DeepSeek.Interop.Gpu;
using DeepSeek.Runtime.Compute;
using DeepSeek.Runtime.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace DeepSeek.Interop.Tests.Gpu;

/// <summary>Selecting <c>cuda</c> through the runtime's options and factories, on a machine without a driver.</summary>
public class CudaHostingTests
{
    [Fact]
    public void The_runtime_finds_the_cuda_factory_in_this_assembly()
    {
        Assert.IsType<CudaBackendFactory>(ComputeBackends.Find("cuda"));
        Assert.IsType<CudaBackendFactory>(ComputeBackends.Find("CUDA"));
        Assert.Equal("cpu", ComputeBackends.Find("cpu").Name);
        Assert.Throws<ArgumentException>(() => ComputeBackends.Find("tpu"));
    }

    [Fact]
    public async Task Without_a_driver_host_start_up_fails_with_the_typed_no_driver_error()
    {
        if (CudaDriverLibrary.IsAvailable) return;   // there the GPU tests run instead
        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddDeepSeek(o =>
        {
            o.ModelPath = RepoPaths.Model("tiny-v3");
            o.Backend = "cuda";
        });
        using var host = builder.Build();
        var e = await Assert.ThrowsAsync<CudaUnavailableException>(() => host.StartAsync());
        Assert.StartsWith("No NVIDIA driver: libcuda.so.1", e.Message);
    }

    [Fact]
    public void Without_a_driver_every_entry_point_gives_the_same_typed_error()
    {
        if (CudaDriverLibrary.IsAvailable) return;
        Assert.Throws<CudaUnavailableException>(() => ComputeBackends.Create("cuda", 0));
        Assert.Throws<CudaUnavailableException>(() => new CudaBackend());
        Assert.Throws<CudaUnavailableException>(() => DeepSeekChatModel.Load(RepoPaths.Model("tiny-v3"), new DeepSeekModelOptions { Backend = "cuda" }));
        var invalid = new DeepSeekModelOptionsValidator().Validate(null, new DeepSeekModelOptions { ModelPath = "/nonexistent", Backend = "cuda" });
        Assert.True(invalid.Failed);   // an invalid path is reported as such first, not hidden behind the driver check
    }

    [Fact]
    public void The_cpu_backend_still_validates_and_loads_here()
    {
        var ok = new DeepSeekModelOptionsValidator().Validate(null, new DeepSeekModelOptions { ModelPath = RepoPaths.Model("tiny-v3"), Backend = "cpu" });
        Assert.True(ok.Succeeded);
        using var backend = ComputeBackends.Create("cpu", 1);
        Assert.Equal("cpu", backend.Name);
    }
}
