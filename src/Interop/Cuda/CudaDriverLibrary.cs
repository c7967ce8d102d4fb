using System.Runtime.InteropServices;

namespace DeepSeek.Interop.Cuda;

/// <summary>
/// Finds the CUDA driver library (<c>libcuda.so.1</c> on Linux, <c>nvcuda.dll</c> on Windows) that the driver
/// installs; the toolkit is not needed. Loading happens once; the handle lives for the process.
/// </summary>
public static class CudaDriverLibrary
{
    private static readonly Lazy<(nint Handle, string? Failure)> Loaded = new(Probe, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>File names tried, in order, for this operating system.</summary>
    public static IReadOnlyList<string> CandidateNames { get; } =
        OperatingSystem.IsWindows() ? ["nvcuda.dll"] : OperatingSystem.IsLinux() ? ["libcuda.so.1", "libcuda.so"] : [];

    /// <summary>True when the driver library loads on this machine.</summary>
    public static bool IsAvailable => Loaded.Value.Handle != 0;

    /// <summary>The native handle of the driver library.</summary>
    /// <exception cref="CudaUnavailableException">No NVIDIA driver is installed (or the OS has no CUDA driver).</exception>
    public static nint Handle => Loaded.Value.Handle != 0 ? Loaded.Value.Handle : throw new CudaUnavailableException(Loaded.Value.Failure!);

    private static (nint, string?) Probe()
    {
        if (CandidateNames.Count == 0)
            return (0, $"No NVIDIA driver: CUDA is not supported on {RuntimeInformation.OSDescription}; use the CPU backend.");
        var errors = new List<string>();
        foreach (var name in CandidateNames)
        {
            if (NativeLibrary.TryLoad(name, out var handle)) return (handle, null);
            errors.Add(name);
        }
        return (0, $"No NVIDIA driver: could not load {string.Join(" or ", errors)}. Install the NVIDIA driver " +
                   "(the CUDA toolkit is not needed) or use the CPU backend.");
    }
}
