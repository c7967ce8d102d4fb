using System.Runtime.InteropServices;

namespace DeepSeek.Interop.Nccl;

/// <summary>
/// NVIDIA's <c>libnccl.so.2</c> (the <c>libnccl2</c> package, or the <c>nvidia-nccl-cu*</c> wheel PyTorch installs),
/// loaded once for the process. <c>DEEPSEEK_NCCL_LIBRARY</c>, when set, is the full path tried first.
/// </summary>
public static class NcclLibrary
{
    /// <summary>Environment variable naming the library file to try before the usual names.</summary>
    public const string PathVariable = "DEEPSEEK_NCCL_LIBRARY";

    /// <summary>File names tried, in order, on this operating system (NCCL exists for Linux only).</summary>
    public static IReadOnlyList<string> CandidateNames { get; } = Candidates();

    private static readonly Lazy<(nint Handle, string? Failure)> Loaded = new(() => Probe(Candidates()), LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>True when the library loads on this machine (it says nothing about a GPU).</summary>
    public static bool IsAvailable => Loaded.Value.Handle != 0;

    /// <summary>The native handle of the library.</summary>
    /// <exception cref="NcclUnavailableException">NCCL is not installed.</exception>
    public static nint Handle => Loaded.Value.Handle != 0 ? Loaded.Value.Handle : throw new NcclUnavailableException(Loaded.Value.Failure!);

    /// <summary>Address of an exported function.</summary>
    /// <exception cref="NcclUnavailableException">The library lacks it (an NCCL older than the call needs).</exception>
    public static nint Export(string name, string minimumVersion = "2.7") =>
        TryExport(name, out var address) ? address
            : throw new NcclUnavailableException($"The loaded NCCL library has no symbol '{name}': NCCL {minimumVersion} or newer is required.");

    /// <summary>Address of an exported function, or false when the library lacks it.</summary>
    public static bool TryExport(string name, out nint address) => NativeLibrary.TryGetExport(Handle, name, out address);

    /// <summary>Loads the first of <paramref name="names"/> that loads; otherwise a message naming every file tried and how to install NCCL.</summary>
    internal static (nint Handle, string? Failure) Probe(IReadOnlyList<string> names)
    {
        if (names.Count == 0)
            return (0, $"NCCL is not available: libnccl.so.2 is a Linux library and this is {RuntimeInformation.OSDescription}.");
        foreach (var name in names)
            if (NativeLibrary.TryLoad(name, out var handle)) return (handle, null);
        return (0, $"NCCL is not available: could not load {string.Join(" or ", names)}. Install NVIDIA's libnccl2 " +
                   $"(or point {PathVariable} at a libnccl.so.2, e.g. the one in PyTorch's nvidia/nccl/lib); NCCL needs an NVIDIA GPU and driver. " +
                   "Without a GPU use the MPI or in-process communicator.");
    }

    private static string[] Candidates()
    {
        if (!OperatingSystem.IsLinux()) return [];
        var names = new List<string>();
        if (Environment.GetEnvironmentVariable(PathVariable) is { Length: > 0 } path) names.Add(path);
        names.Add("libnccl.so.2");
        names.Add("libnccl.so");
        return [.. names];
    }
}
