using System.Runtime.InteropServices;

namespace DeepSeek.Interop.Mpi;

/// <summary>
/// Open MPI's <c>libmpi.so.40</c> (Debian <c>openmpi-bin libopenmpi-dev</c>), loaded once with <c>RTLD_GLOBAL</c> so the
/// plug-ins Open MPI opens at <c>MPI_Init</c> can see its symbols. Open MPI's handles (<c>MPI_COMM_WORLD</c>,
/// <c>MPI_FLOAT</c>, <c>MPI_SUM</c>, …) are the addresses of exported globals (<c>ompi_mpi_comm_world</c>, …).
/// </summary>
public static class MpiLibrary
{
    private const int RtldNow = 0x2, RtldGlobal = 0x100;
    private static readonly Lazy<(nint Handle, string? Failure)> Loaded = new(Probe, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>File names tried, in order.</summary>
    public static IReadOnlyList<string> CandidateNames { get; } = OperatingSystem.IsLinux() ? ["libmpi.so.40", "libmpi.so"] : [];

    /// <summary>True when Open MPI's library loads on this machine (it says nothing about a launcher).</summary>
    public static bool IsAvailable => Loaded.Value.Handle != 0;

    /// <summary>
    /// True when this process was started by an MPI launcher (<c>mpirun</c>/<c>mpiexec</c> set
    /// <c>OMPI_COMM_WORLD_SIZE</c>, or a PMIx launcher set <c>PMIX_RANK</c>).
    /// </summary>
    public static bool IsLaunched =>
        Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_SIZE") is not null || Environment.GetEnvironmentVariable("PMIX_RANK") is not null;

    /// <summary>The native handle of the library.</summary>
    /// <exception cref="MpiUnavailableException">Open MPI is not installed.</exception>
    public static nint Handle => Loaded.Value.Handle != 0 ? Loaded.Value.Handle : throw new MpiUnavailableException(Loaded.Value.Failure!);

    /// <summary>Address of an exported function or global.</summary>
    /// <exception cref="MpiUnavailableException">The library lacks it (not Open MPI ≥ 3).</exception>
    public static nint Export(string name) =>
        NativeLibrary.TryGetExport(Handle, name, out var address) ? address
            : throw new MpiUnavailableException($"The loaded MPI library has no symbol '{name}': Open MPI 3 or newer (libmpi.so.40) is required.");

    private static (nint, string?) Probe()
    {
        if (CandidateNames.Count == 0)
            return (0, $"MPI is not available: Open MPI's libmpi.so.40 is a Linux library and this is {RuntimeInformation.OSDescription}.");
        foreach (var name in CandidateNames)
        {
            var handle = DlOpen(name, RtldNow | RtldGlobal);
            if (handle != 0) return (handle, null);
        }
        return (0, $"MPI is not available: could not load {string.Join(" or ", CandidateNames)}. " +
                   "Install Open MPI (Debian/Ubuntu: apt-get install openmpi-bin libopenmpi-dev).");
    }

    [DllImport("libc", EntryPoint = "dlopen", CharSet = CharSet.Ansi, BestFitMapping = false, ThrowOnUnmappableChar = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern nint DlOpen(string file, int mode);
}
