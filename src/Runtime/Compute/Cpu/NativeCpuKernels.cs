using System.Diagnostics;
using System.Runtime.InteropServices;

namespace DeepSeek.Runtime.Compute.Cpu;

/// <summary>
/// The optional native kernels of <c>libdeepseek_cpu.so</c> (native/cpu/, built by the Runtime project where a C compiler
/// exists): BF16 and block-scaled FP8 GEMMs on AVX512-BF16's <c>vdpbf16ps</c>, which .NET 10 has no intrinsic for and
/// which does twice the multiply-adds per instruction of fp32 FMA (FP8 codes widened to bf16 in registers, exactly). Loaded once from the assembly's directory; absent library, a CPU without
/// avx512bf16, a stale library (ABI version) or <c>DEEPSEEK_NATIVE_CPU=0</c> leave <see cref="IsAvailable"/> false and
/// the managed kernels in charge. Math: out[t, j] = bias[j] + Σ_k bf16(x[t, k])·w[j, k], x rounded to nearest even
/// once per MatMul (<see cref="ToBf16"/>), products exact, sums in fp32.
/// </summary>
internal static unsafe class NativeCpuKernels
{
    /// <summary>File name of the library, looked up next to DeepSeek.Runtime.dll.</summary>
    public const string LibraryName = "libdeepseek_cpu.so";

    /// <summary>Environment variable that disables the native kernels when set to 0.</summary>
    public const string EnvironmentVariable = "DEEPSEEK_NATIVE_CPU";

    private const int AbiVersion = 3;

    private static readonly delegate* unmanaged<float*, int, int, long, ushort*, long, void> s_toBf16;
    private static readonly delegate* unmanaged<ushort*, int, int, long, ushort*, long, float*, float*, long, int, int, void> s_gemmBf16;
    private static readonly delegate* unmanaged<long, float> s_bf16DotProbe;
    private static readonly delegate* unmanaged<ushort*, int, int, long, byte*, long, float*, int, int, int, float*, float*, long, int, int, void> s_gemmFp8;

    static NativeCpuKernels()
    {
        if (Environment.GetEnvironmentVariable(EnvironmentVariable) == "0")
        {
            Status = $"disabled by {EnvironmentVariable}=0";
            return;
        }
        if (!OperatingSystem.IsLinux() || RuntimeInformation.ProcessArchitecture != Architecture.X64)
        {
            Status = $"built for linux-x64 only (this is {RuntimeInformation.OSDescription}, {RuntimeInformation.ProcessArchitecture})";
            return;
        }
        var assembly = typeof(NativeCpuKernels).Assembly;
        var dir = Path.GetDirectoryName(assembly.Location);
        if (string.IsNullOrEmpty(dir)) dir = AppContext.BaseDirectory;
        var path = Path.Combine(dir, LibraryName);
        // Next to the assembly (project references, the CLI), else the host's native probing (a NuGet package's
        // runtimes/linux-x64/native/ asset, listed in the application's deps.json).
        if (!NativeLibrary.TryLoad(path, out var lib) && !NativeLibrary.TryLoad(LibraryName, assembly, null, out lib))
        {
            Status = $"{path} not found or not loadable (built only where a C compiler exists)";
            return;
        }
        if (!NativeLibrary.TryGetExport(lib, "ds_cpu_abi_version", out var abi)
            || ((delegate* unmanaged<int>)abi)() != AbiVersion)
        {
            Status = $"{path} has another ABI version than {AbiVersion} (stale build)";
            return;
        }
        if (((delegate* unmanaged<int>)NativeLibrary.GetExport(lib, "ds_cpu_has_avx512bf16"))() == 0)
        {
            Status = "this CPU lacks avx512bf16";
            return;
        }
        s_toBf16 = (delegate* unmanaged<float*, int, int, long, ushort*, long, void>)NativeLibrary.GetExport(lib, "ds_f32_to_bf16");
        s_gemmBf16 = (delegate* unmanaged<ushort*, int, int, long, ushort*, long, float*, float*, long, int, int, void>)
            NativeLibrary.GetExport(lib, "ds_gemm_bf16");
        s_bf16DotProbe = (delegate* unmanaged<long, float>)NativeLibrary.GetExport(lib, "ds_bf16_dot_probe");
        IsAvailable = true;
        Status = $"loaded from {path}";
        if (((delegate* unmanaged<int>)NativeLibrary.GetExport(lib, "ds_cpu_has_fp8_kernels"))() != 0)
        {
            s_gemmFp8 = (delegate* unmanaged<ushort*, int, int, long, byte*, long, float*, int, int, int, float*, float*, long, int, int, void>)
                NativeLibrary.GetExport(lib, "ds_gemm_fp8");
            Fp8Available = true;
        }
        else Status += "; FP8 GEMM off (this CPU lacks avx512vbmi)";
    }

    /// <summary>
    /// Runs <paramref name="iterations"/> rounds of 12 independent vdpbf16ps chains on this thread (64 FLOPs each: 16 lanes ×
    /// 2 multiply-adds) and returns their sum; the bf16 dot-product peak probe of <c>MachineLimits</c>.
    /// </summary>
    public static float Bf16DotProbe(long iterations)
    {
        if (!IsAvailable) throw new InvalidOperationException($"native CPU kernels unavailable: {Status}");
        return s_bf16DotProbe(iterations);
    }

    /// <summary>True when the library loaded, matches this ABI, the CPU has avx512bf16 and the environment did not disable it.</summary>
    public static bool IsAvailable { get; }

    /// <summary>True when <see cref="IsAvailable"/> and the CPU also has avx512vbmi, which the FP8 GEMM's code lookup needs.</summary>
    public static bool Fp8Available { get; }

    /// <summary>
    /// True when <paramref name="w"/> is an in-place FP8 weight the native GEMM takes: scale blocks a multiple of 32 columns
    /// wide that divide its 2048-column K chunks (DeepSeek's 128 × 128 blocks do).
    /// </summary>
    public static bool SupportsFp8(CpuWeight w) =>
        Fp8Available && w.IsFp8InPlace && w.BlockCols % 32 == 0 && 2048 % w.BlockCols == 0;

    /// <summary>Why the kernels are (not) available, for logs and test skip reasons.</summary>
    public static string Status { get; }

    /// <summary>Row stride (elements) of the bf16 copy of a <paramref name="cols"/>-wide activation: whole 32-element groups.</summary>
    public static int Bf16Stride(int cols) => (cols + 31) & ~31;

    /// <summary>x (fp32, any row stride) → <paramref name="destination"/> bf16 rows of <see cref="Bf16Stride"/>, round to nearest even, padding zeroed.</summary>
    public static void ToBf16(CpuTensor x, ushort[] destination)
    {
        Debug.Assert(IsAvailable);
        var ld = Bf16Stride(x.Cols);
        if (destination.Length < (long)x.Rows * ld) throw new ArgumentException($"{destination.Length} bf16 values for {x}", nameof(destination));
        if (x.Rows == 0) return;
        fixed (float* xp = &x.Data[x.Offset])
        fixed (ushort* d = destination)
            s_toBf16(xp, x.Rows, x.Cols, x.Stride, d, ld);
    }

    /// <summary>
    /// Output columns [<paramref name="j0"/>, <paramref name="j1"/>) of every row: o[t, j] = bias[j] + Σ_k xb[t, k]·w[j, k],
    /// with <paramref name="xb"/> from <see cref="ToBf16"/> of a <paramref name="rows"/> × w.Cols activation.
    /// </summary>
    public static void GemmBf16(ushort[] xb, int rows, CpuWeight w, float[]? bias, CpuTensor o, int j0, int j1)
    {
        Debug.Assert(IsAvailable && w.IsBf16 && o.Cols == w.Rows && o.Rows == rows);
        Debug.Assert(0 <= j0 && j0 <= j1 && j1 <= w.Rows && xb.Length >= (long)rows * Bf16Stride(w.Cols));
        Debug.Assert(bias is null || bias.Length >= w.Rows);
        if (rows == 0 || j0 == j1) return;
        fixed (ushort* x = xb)
        fixed (ushort* wp = w.Bf16Row(0))
        fixed (float* b = bias)
        fixed (float* op = &o.Data[o.Offset])
            s_gemmBf16(x, rows, w.Cols, Bf16Stride(w.Cols), wp, w.Cols, b, op, o.Stride, j0, j1);
    }

    /// <summary>
    /// Output columns [<paramref name="j0"/>, <paramref name="j1"/>) of every row for a block-scaled FP8 weight
    /// (<see cref="SupportsFp8"/>): o[t, j] = bias[j] + Σ_b s[j, b]·Σ_{k ∈ b} xb[t, k]·e4m3(w[j, k]), each scale block summed on
    /// its own (16 fp32 lanes), scaled into a lane-wise total, the total reduced per 2048-column chunk.
    /// </summary>
    public static void GemmFp8(ushort[] xb, int rows, CpuWeight w, float[]? bias, CpuTensor o, int j0, int j1)
    {
        Debug.Assert(SupportsFp8(w) && o.Cols == w.Rows && o.Rows == rows);
        Debug.Assert(0 <= j0 && j0 <= j1 && j1 <= w.Rows && xb.Length >= (long)rows * Bf16Stride(w.Cols));
        Debug.Assert(bias is null || bias.Length >= w.Rows);
        if (rows == 0 || j0 == j1) return;
        fixed (ushort* x = xb)
        fixed (byte* wp = w.Fp8Row(0))
        fixed (float* s = w.Fp8Scales2p120)
        fixed (float* b = bias)
        fixed (float* op = &o.Data[o.Offset])
            s_gemmFp8(x, rows, w.Cols, Bf16Stride(w.Cols), wp, w.Cols, s, w.GridCols, w.BlockRows, w.BlockCols, b, op, o.Stride, j0, j1);
    }
}
