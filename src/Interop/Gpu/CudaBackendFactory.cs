using DeepSeek.Interop.Cuda;
using DeepSeek.Runtime.Compute;

namespace DeepSeek.Interop.Gpu;

/// <summary>
/// What <c>Backend = "cuda"</c> resolves to (<see cref="ComputeBackends"/> finds this type by name). Checking
/// availability loads the driver library and asks it for a device, nothing more.
/// </summary>
public sealed class CudaBackendFactory : IComputeBackendFactory
{
    /// <inheritdoc/>
    public string Name => "cuda";

    /// <inheritdoc/>
    /// <exception cref="CudaUnavailableException">No NVIDIA driver (the message names the files tried).</exception>
    /// <exception cref="CudaException">The driver is present but initialises no device.</exception>
    public void EnsureAvailable()
    {
        var driver = NativeCudaDriver.Shared;
        driver.Check(driver.Init(0), "cuInit");
        driver.Check(driver.DeviceGetCount(out var count), "cuDeviceGetCount");
        if (count == 0) throw driver.Error(CuResult.NoDevice, "cuDeviceGetCount", "the driver reports 0 devices");
    }

    /// <inheritdoc/>
    public IComputeBackend Create(int threads) => new CudaBackend();
}
