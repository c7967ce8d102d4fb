using System.Diagnostics;

namespace DeepSeek.Interop.Tests.Mpi;

/// <summary>A test that needs mpirun; skipped, with the reason shown, where Open MPI is not installed.</summary>
public sealed class MpiFactAttribute : FactAttribute
{
    public MpiFactAttribute()
    {
        if (MpiRun.Launcher is null) Skip = "mpirun is not on PATH (install openmpi-bin libopenmpi-dev; .ci/run does)";
    }
}

/// <summary>Starts the MPI test host under <c>mpirun -np N</c> on loopback, with a bound on the whole run.</summary>
internal static class MpiRun
{
    public static readonly TimeSpan Bound = TimeSpan.FromSeconds(240);

    public static string? Launcher { get; } = FindOnPath("mpirun");

    public sealed record Result(int ExitCode, string Output, TimeSpan Elapsed);

    /// <summary>The host built beside this test assembly's configuration (tests/MpiHost/bin/CONFIG/net10.0).</summary>
    public static string HostPath
    {
        get
        {
            var here = AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar);
            var path = here.Replace(Path.Combine("tests", "Interop.Tests", "bin"), Path.Combine("tests", "MpiHost", "bin"), StringComparison.Ordinal);
            var host = Path.Combine(path, "DeepSeek.MpiHost.dll");
            Assert.True(File.Exists(host), $"the MPI test host was not built: {host}");
            return host;
        }
    }

    /// <summary>The <c>deepseek</c> CLI built in the same configuration (src/Cli/bin/CONFIG/net10.0/deepseek.dll).</summary>
    public static string CliPath
    {
        get
        {
            var here = AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar);
            var root = here[..here.IndexOf(Path.Combine("tests", "Interop.Tests", "bin"), StringComparison.Ordinal)];
            var cli = Path.Combine(root, "src", "Cli", "bin", Path.GetFileName(Path.GetDirectoryName(here))!, Path.GetFileName(here), "deepseek.dll");
            Assert.True(File.Exists(cli), $"the CLI was not built: {cli}");
            return cli;
        }
    }

    public static string RepoRoot
    {
        get
        {
            var here = AppContext.BaseDirectory;
            return here[..here.IndexOf(Path.Combine("tests", "Interop.Tests", "bin"), StringComparison.Ordinal)];
        }
    }

    public static Result Host(int ranks, params string[] arguments) =>
        Start(ranks, ["dotnet", HostPath, .. arguments]);

    public static Result Start(int ranks, string[] command, string? workingDirectory = null)
    {
        var info = Info(ranks, command, workingDirectory);
        var watch = Stopwatch.StartNew();
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(Bound))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"mpirun -np {ranks} {string.Join(' ', command)} did not end within {Bound}");
        }
        process.WaitForExit();
        return new Result(process.ExitCode, output.Result + error.Result, watch.Elapsed);
    }

    /// <summary><c>mpirun -np N --oversubscribe COMMAND</c> on loopback only, output redirected, not started.</summary>
    public static ProcessStartInfo Info(int ranks, string[] command, string? workingDirectory = null)
    {
        var info = new ProcessStartInfo(Launcher!)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Path.GetTempPath(),
        };
        foreach (var a in (string[])["-np", ranks.ToString(System.Globalization.CultureInfo.InvariantCulture), "--oversubscribe", .. command]) info.ArgumentList.Add(a);
        // Loopback only: TCP and shared memory between local processes, no ssh, no other interface.
        info.Environment["OMPI_MCA_btl"] = "self,vader,tcp";
        info.Environment["OMPI_MCA_btl_tcp_if_include"] = "lo";
        info.Environment["OMPI_MCA_oob_tcp_if_include"] = "lo";
        info.Environment["OMPI_MCA_plm_rsh_agent"] = "";
        info.Environment["OMPI_ALLOW_RUN_AS_ROOT"] = "1";
        info.Environment["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1";
        info.Environment["TERM"] = "dumb";
        return info;
    }

    private static string? FindOnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, name)).FirstOrDefault(File.Exists);
}
