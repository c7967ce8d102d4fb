using System.Diagnostics;
using System.Text;

namespace DeepSeek.Interop.Tests.Mpi;

/// <summary>A <c>deepseek serve</c> process (plain or under mpirun) whose output is collected while it runs; killed on dispose if still alive.</summary>
internal sealed class ServerProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly TaskCompletionSource<string?> _serving = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private ServerProcess(ProcessStartInfo info)
    {
        info.RedirectStandardOutput = true;
        info.RedirectStandardError = true;
        info.UseShellExecute = false;
        _process = new Process { StartInfo = info, EnableRaisingEvents = true };
        _process.OutputDataReceived += (_, e) => Collect(e.Data);
        _process.ErrorDataReceived += (_, e) => Collect(e.Data);
        _process.Exited += (_, _) => _serving.TrySetResult(null);
        _process.Start();
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public static ServerProcess Start(ProcessStartInfo info) => new(info);

    public int Id => _process.Id;

    public string Output
    {
        get
        {
            lock (_output) return _output.ToString();
        }
    }

    public int ExitCode => _process.ExitCode;

    /// <summary>The "serving '…'" line, or a failure with everything printed so far when the process ends or the bound passes first.</summary>
    public string WaitUntilServing(TimeSpan bound)
    {
        var finished = Task.WhenAny(_serving.Task, Task.Delay(bound)).Result;
        Assert.True(finished == _serving.Task, $"no 'serving' line within {bound}:\n{Output}");
        return _serving.Task.Result ?? throw new Xunit.Sdk.XunitException($"the server exited before serving (exit {_process.ExitCode}):\n{Output}");
    }

    /// <summary>Sends SIGTERM (what a service manager sends, handled like Ctrl+C) to <paramref name="pid"/>.</summary>
    public static void Terminate(int pid)
    {
        using var kill = Process.Start("kill", ["-TERM", pid.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        kill.WaitForExit();
        Assert.Equal(0, kill.ExitCode);
    }

    public bool WaitForExit(TimeSpan bound)
    {
        if (!_process.WaitForExit(bound)) return false;
        _process.WaitForExit();   // drains the redirected output
        return true;
    }

    public void Dispose()
    {
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        _process.Dispose();
    }

    private void Collect(string? line)
    {
        if (line is null) return;
        lock (_output) _output.AppendLine(line);
        if (line.Contains("serving '", StringComparison.Ordinal)) _serving.TrySetResult(line);
    }
}
