using DeepSeek.Interop.Cuda;

namespace DeepSeek.Interop.Tests.Gpu;

/// <summary>A test that needs an NVIDIA GPU; elsewhere it is skipped with the reason (e.g. "no NVIDIA driver: libcuda.so.1 not found").</summary>
public sealed class GpuFactAttribute : FactAttribute
{
    /// <summary>Sets <see cref="FactAttribute.Skip"/> when no GPU can be opened.</summary>
    public GpuFactAttribute()
    {
        if (GpuAvailability.SkipReason is { } reason) Skip = reason;
    }
}

/// <summary>Theory form of <see cref="GpuFactAttribute"/>.</summary>
public sealed class GpuTheoryAttribute : TheoryAttribute
{
    /// <summary>Sets <see cref="FactAttribute.Skip"/> when no GPU can be opened.</summary>
    public GpuTheoryAttribute()
    {
        if (GpuAvailability.SkipReason is { } reason) Skip = reason;
    }
}

/// <summary>Whether this machine can run the GPU tests, decided once.</summary>
internal static class GpuAvailability
{
    private static readonly Lazy<string?> s_reason = new(() =>
    {
        if (!CudaDriverLibrary.IsAvailable)
            return "no NVIDIA driver: " + string.Join(" / ", CudaDriverLibrary.CandidateNames) + " not found";
        try
        {
            using var ctx = CudaContext.Create();
            return ctx.Device.ComputeCapability < 80 ? $"GPU {ctx.Device} is older than sm_80" : null;
        }
        catch (CudaException e)
        {
            return $"NVIDIA driver present but no usable GPU: {e.Message}";
        }
    });

    public static string? SkipReason => s_reason.Value;
}
