namespace DeepSeek.Interop.Cuda;

/// <summary>
/// A CUDA driver call failed. The message names the call, the driver's error name and description
/// (<c>cuGetErrorName</c>/<c>cuGetErrorString</c>), what we were doing, and a hint for the common causes.
/// </summary>
public class CudaException : Exception
{
    /// <summary>Creates the exception for <paramref name="call"/> returning <paramref name="result"/>.</summary>
    public CudaException(string call, CuResult result, string? errorName, string? errorString, string? detail = null)
        : base(Format(call, result, errorName, errorString, detail))
    {
        Call = call;
        Result = result;
        ErrorName = errorName ?? $"CUresult {(int)result}";
        ErrorString = errorString;
        Detail = detail;
        Hint = HintFor(result);
    }

    /// <summary>The driver function that failed, e.g. <c>cuMemAlloc_v2</c>.</summary>
    public string Call { get; }

    /// <summary>The driver's result code.</summary>
    public CuResult Result { get; }

    /// <summary>The driver's name for the code (e.g. <c>CUDA_ERROR_OUT_OF_MEMORY</c>).</summary>
    public string ErrorName { get; }

    /// <summary>The driver's description of the code, when it gave one.</summary>
    public string? ErrorString { get; }

    /// <summary>What the runtime was doing (sizes, kernel or module name), when known.</summary>
    public string? Detail { get; }

    /// <summary>Likely cause and what to do, for the common codes; null otherwise.</summary>
    public string? Hint { get; }

    /// <summary>True when the error left the context unusable (a kernel fault): the process must restart to use the GPU again.</summary>
    public bool IsStickyFault => Result is CuResult.IllegalAddress or CuResult.IllegalInstruction or CuResult.MisalignedAddress
        or CuResult.LaunchFailed or CuResult.LaunchTimeout;

    /// <summary>The hint for <paramref name="result"/>, or null.</summary>
    public static string? HintFor(CuResult result) => result switch
    {
        CuResult.OutOfMemory => "the GPU is out of memory: shorten the context, lower MaxConcurrentSequences, free other processes' memory (nvidia-smi) or use a GPU with more memory.",
        CuResult.NoDevice or CuResult.InvalidDevice or CuResult.DeviceUnavailable =>
            "no usable CUDA GPU: check nvidia-smi, CUDA_VISIBLE_DEVICES and that no exclusive-mode process holds the device.",
        CuResult.StubLibrary => "the CUDA toolkit's stub libcuda.so was loaded instead of the driver's; remove the stubs directory from LD_LIBRARY_PATH.",
        CuResult.SystemDriverMismatch => "the NVIDIA kernel module and user-space driver versions differ; reboot or reinstall the driver.",
        CuResult.InvalidPtx or CuResult.UnsupportedPtxVersion or CuResult.InvalidImage or CuResult.NoBinaryForGpu or CuResult.JitCompilerNotFound =>
            "the driver could not JIT-compile the PTX: the shipped PTX is ISA 7.8 (needs driver >= 520) for sm_80/sm_89/sm_90; update the NVIDIA driver. The JIT log, when any, is in the message.",
        CuResult.IllegalAddress or CuResult.IllegalInstruction or CuResult.MisalignedAddress or CuResult.LaunchFailed =>
            "a kernel faulted (reported at the next synchronising call); the CUDA context is unusable until the process restarts. Please report it with the kernel name.",
        CuResult.LaunchTimeout => "a kernel ran past the display watchdog; run on a GPU without a display attached.",
        CuResult.LaunchOutOfResources => "the kernel needs more registers or shared memory than this launch configuration allows.",
        CuResult.NotInitialized or CuResult.Deinitialized => "the driver is not initialised (cuInit) or is shutting down.",
        CuResult.InvalidContext => "no CUDA context is current on this thread.",
        _ => null,
    };

    private static string Format(string call, CuResult result, string? name, string? text, string? detail)
    {
        var message = $"{call} failed: {name ?? $"CUresult {(int)result}"} ({(int)result})";
        if (!string.IsNullOrEmpty(text)) message += $": {text}";
        if (!string.IsNullOrEmpty(detail)) message += $" [{detail}]";
        var hint = HintFor(result);
        return hint is null ? message + "." : $"{message}. Hint: {hint}";
    }
}
