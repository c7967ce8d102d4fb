using System.Diagnostics;
using System.Runtime.InteropServices;
using DeepSeek.Interop.Cuda;
using DeepSeek.Interop.Gpu;
using DeepSeek.Interop.Tests.Cuda;

namespace DeepSeek.Interop.Tests.Gpu;

/// <summary>
/// The kernel sources of native/ptx compiled for the host (native/ptx/emulator) and run by the fake driver, so the
/// kernel tests also run without a GPU: same .cu code, sequential blocks, fiber threads, host floats. Built once per
/// test run with g++; when no C++ compiler is present the emulated tests skip, saying so.
/// </summary>
internal static unsafe class KernelEmulator
{
    private static readonly Lock Gate = new();
    private static readonly Lazy<(nint Launch, string? Skip, string? Error)> s_library = new(Build);

    /// <summary>Why the emulated tests skip (no C++ compiler), or null. A compiler that fails is an error, not a skip.</summary>
    public static string? SkipReason => s_library.Value.Skip;

    /// <summary>A CUDA backend whose kernels run in the emulator (over a fresh fake driver with sm_80 PTX: the integer FP8 path).</summary>
    public static (CudaBackend Backend, FakeCudaDriver Driver) CreateBackend(bool fp8Activations = true)
    {
        if (s_library.Value.Error is { } error) throw new InvalidOperationException(error);
        var driver = new FakeCudaDriver { ComputeCapability = 80, Execute = Run };
        return (new CudaBackend(CudaContext.Create(driver, 0), new CudaBackendOptions { Fp8Activations = fp8Activations }), driver);
    }

    private static CuResult Run(string kernel, uint[] grid, uint[] block, nint args)
    {
        var launch = (delegate* unmanaged<byte*, uint, uint, uint, uint, uint, uint, nint, int>)s_library.Value.Launch;
        var name = System.Text.Encoding.ASCII.GetBytes(kernel + "\0");
        lock (Gate)   // the emulator has one scheduler
        {
            fixed (byte* n = name)
                return launch(n, grid[0], grid[1], grid[2], block[0], block[1], block[2], args) == 0 ? CuResult.Success : CuResult.NotFound;
        }
    }

    private static (nint, string?, string?) Build()
    {
        var compiler = new[] { Environment.GetEnvironmentVariable("CXX"), "g++", "clang++" }
            .FirstOrDefault(c => !string.IsNullOrEmpty(c) && Works(c!));
        if (compiler is null) return (0, "no C++ compiler (g++/clang++) to build the kernel emulator", null);
        var dir = Directory.CreateTempSubdirectory("dsemu-").FullName;
        File.WriteAllLines(Path.Combine(dir, "kernels.inc"), PtxLibrary.EntryModules(80).Keys.Order(StringComparer.Ordinal).Select(k => $"K({k})"));
        var library = Path.Combine(dir, "libdsemu.so");
        var source = Path.Combine(RepoPaths.Repo, "native", "ptx", "emulator", "emu.cpp");
        var (exit, output) = Exec(compiler, $"-std=c++17 -O2 -shared -fPIC -ffp-contract=off -Wno-unknown-pragmas -I\"{dir}\" \"{source}\" -o \"{library}\"");
        if (exit != 0) return (0, null, $"building the kernel emulator failed ({compiler}):\n{output}");
        return (NativeLibrary.GetExport(NativeLibrary.Load(library), "emu_launch"), null, null);
    }

    private static bool Works(string compiler)
    {
        try
        {
            return Exec(compiler, "--version").Exit == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false;
        }
    }

    private static (int Exit, string Output) Exec(string file, string arguments)
    {
        using var p = Process.Start(new ProcessStartInfo(file, arguments) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var stderr = p.StandardError.ReadToEndAsync();
        var stdout = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, stdout + stderr.Result);
    }
}

/// <summary>A test that runs the kernels in the host emulator; skipped (with the reason) where it cannot be built.</summary>
public sealed class EmulatorFactAttribute : FactAttribute
{
    /// <summary>Sets <see cref="FactAttribute.Skip"/> when the emulator is unavailable.</summary>
    public EmulatorFactAttribute()
    {
        if (!OperatingSystem.IsLinux()) Skip = "the kernel emulator uses ucontext (Linux)";
        else if (KernelEmulator.SkipReason is { } reason) Skip = reason;
    }
}

/// <summary>Theory form of <see cref="EmulatorFactAttribute"/>.</summary>
public sealed class EmulatorTheoryAttribute : TheoryAttribute
{
    /// <summary>Sets <see cref="FactAttribute.Skip"/> when the emulator is unavailable.</summary>
    public EmulatorTheoryAttribute()
    {
        if (!OperatingSystem.IsLinux()) Skip = "the kernel emulator uses ucontext (Linux)";
        else if (KernelEmulator.SkipReason is { } reason) Skip = reason;
    }
}
