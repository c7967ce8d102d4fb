using System.Runtime.InteropServices;

namespace DeepSeek.Interop.Cuda;

/// <summary>
/// Finds the CUDA driver library (<c>libcuda.so.1</c> on Linux, <c>nvcuda.dll</c> on Windows) that the driver
/// installs; the toolkit is not needed. Loading happens once, on first use (never at assembly load); the handle lives
/// for the process.
/// </summary>
public static class CudaDriverLibrary
{
    /// <summary>File names tried, in order, for this operating system.</summary>
    public static IReadOnlyList<string> CandidateNames { get; } =
        OperatingSystem.IsWindows() ? ["nvcuda.dll"] : OperatingSystem.IsLinux() ? ["libcuda.so.1", "libcuda.so"] : [];

    private static readonly Lazy<(nint Handle, string? Failure)> Loaded =
        new(() => Probe(CandidateNames, RuntimeInformation.OSDescription, NativeLibrary.TryLoad), LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>True when the driver library loads on this machine.</summary>
    public static bool IsAvailable => Loaded.Value.Handle != 0;

    /// <summary>Why the driver is unavailable (the message of the exception <see cref="Handle"/> throws), or null when it loaded.</summary>
    public static string? UnavailableReason => Loaded.Value.Failure;

    /// <summary>The native handle of the driver library.</summary>
    /// <exception cref="CudaUnavailableException">No NVIDIA driver is installed (or the OS has no CUDA driver).</exception>
    public static nint Handle => Loaded.Value.Handle != 0 ? Loaded.Value.Handle : throw new CudaUnavailableException(Loaded.Value.Failure!);

    /// <summary>Tries each candidate with <paramref name="tryLoad"/>; the failure message names every file tried.</summary>
    internal static (nint Handle, string? Failure) Probe(IReadOnlyList<string> candidates, string osDescription, TryLoadLibrary tryLoad)
    {
        if (candidates.Count == 0)
            return (0, $"No NVIDIA driver: CUDA is not supported on {osDescription}; use the CPU backend.");
        foreach (var name in candidates)
            if (tryLoad(name, out var handle) && handle != 0) return (handle, null);
        return (0, $"No NVIDIA driver: {string.Join(" or ", candidates)} not found. Install the NVIDIA driver " +
                   "(the CUDA toolkit is not needed) or use the CPU backend.");
    }

    /// <summary>The shape of <see cref="NativeLibrary.TryLoad(string, out nint)"/>, replaceable in tests.</summary>
    internal delegate bool TryLoadLibrary(string name, out nint handle);
}
