namespace DeepSeek.Interop.Cuda;

/// <summary>CUDA driver API result codes (<c>CUresult</c> in <c>cuda.h</c>); the ones we name in hints, plus any other value as-is.</summary>
public enum CuResult
{
    /// <summary>CUDA_SUCCESS.</summary>
    Success = 0,
    /// <summary>CUDA_ERROR_INVALID_VALUE.</summary>
    InvalidValue = 1,
    /// <summary>CUDA_ERROR_OUT_OF_MEMORY.</summary>
    OutOfMemory = 2,
    /// <summary>CUDA_ERROR_NOT_INITIALIZED.</summary>
    NotInitialized = 3,
    /// <summary>CUDA_ERROR_DEINITIALIZED.</summary>
    Deinitialized = 4,
    /// <summary>CUDA_ERROR_STUB_LIBRARY: the toolkit's stub libcuda was loaded instead of the driver's.</summary>
    StubLibrary = 34,
    /// <summary>CUDA_ERROR_DEVICE_UNAVAILABLE.</summary>
    DeviceUnavailable = 46,
    /// <summary>CUDA_ERROR_NO_DEVICE.</summary>
    NoDevice = 100,
    /// <summary>CUDA_ERROR_INVALID_DEVICE.</summary>
    InvalidDevice = 101,
    /// <summary>CUDA_ERROR_INVALID_IMAGE.</summary>
    InvalidImage = 200,
    /// <summary>CUDA_ERROR_INVALID_CONTEXT.</summary>
    InvalidContext = 201,
    /// <summary>CUDA_ERROR_NO_BINARY_FOR_GPU.</summary>
    NoBinaryForGpu = 209,
    /// <summary>CUDA_ERROR_INVALID_PTX.</summary>
    InvalidPtx = 218,
    /// <summary>CUDA_ERROR_JIT_COMPILER_NOT_FOUND.</summary>
    JitCompilerNotFound = 221,
    /// <summary>CUDA_ERROR_UNSUPPORTED_PTX_VERSION.</summary>
    UnsupportedPtxVersion = 222,
    /// <summary>CUDA_ERROR_INVALID_HANDLE.</summary>
    InvalidHandle = 400,
    /// <summary>CUDA_ERROR_NOT_FOUND (e.g. a kernel name missing from a module).</summary>
    NotFound = 500,
    /// <summary>CUDA_ERROR_NOT_READY.</summary>
    NotReady = 600,
    /// <summary>CUDA_ERROR_ILLEGAL_ADDRESS: a kernel read or wrote outside its memory.</summary>
    IllegalAddress = 700,
    /// <summary>CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES.</summary>
    LaunchOutOfResources = 701,
    /// <summary>CUDA_ERROR_LAUNCH_TIMEOUT.</summary>
    LaunchTimeout = 702,
    /// <summary>CUDA_ERROR_ILLEGAL_INSTRUCTION.</summary>
    IllegalInstruction = 715,
    /// <summary>CUDA_ERROR_MISALIGNED_ADDRESS.</summary>
    MisalignedAddress = 716,
    /// <summary>CUDA_ERROR_LAUNCH_FAILED.</summary>
    LaunchFailed = 719,
    /// <summary>CUDA_ERROR_SYSTEM_DRIVER_MISMATCH.</summary>
    SystemDriverMismatch = 803,
    /// <summary>CUDA_ERROR_UNKNOWN.</summary>
    Unknown = 999,
}
