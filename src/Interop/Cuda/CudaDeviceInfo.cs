namespace DeepSeek.Interop.Cuda;

/// <summary>What the driver reports about a GPU.</summary>
/// <param name="Ordinal">Device ordinal (as CUDA_VISIBLE_DEVICES renumbers them).</param>
/// <param name="Name">Marketing name, e.g. <c>NVIDIA H100 80GB HBM3</c>.</param>
/// <param name="ComputeCapabilityMajor">Compute capability major (8 = Ampere/Ada, 9 = Hopper).</param>
/// <param name="ComputeCapabilityMinor">Compute capability minor.</param>
/// <param name="MultiprocessorCount">Streaming multiprocessors.</param>
/// <param name="TotalMemory">Device memory in bytes.</param>
/// <param name="DriverVersion">Driver API version, e.g. 12040 for CUDA 12.4.</param>
public sealed record CudaDeviceInfo(int Ordinal, string Name, int ComputeCapabilityMajor, int ComputeCapabilityMinor, int MultiprocessorCount, long TotalMemory, int DriverVersion)
{
    /// <summary>Compute capability as <c>sm_XY</c>'s number, e.g. 90.</summary>
    public int ComputeCapability => ComputeCapabilityMajor * 10 + ComputeCapabilityMinor;

    /// <inheritdoc/>
    public override string ToString() =>
        $"{Name} (sm_{ComputeCapability}, {MultiprocessorCount} SMs, {TotalMemory / (1024.0 * 1024 * 1024):F1} GiB, driver API {DriverVersion / 1000}.{DriverVersion % 1000 / 10})";
}
