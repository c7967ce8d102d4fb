namespace DeepSeek.Interop.Gpu;

/// <summary>Settings of <see cref="CudaBackend"/>.</summary>
public sealed class CudaBackendOptions
{
    /// <summary>CUDA device ordinal.</summary>
    public int Device { get; set; }

    /// <summary>
    /// For block-FP8 weights: quantise activations per 1×128 tile to E4M3 and run the block-scaled FP8 GEMM (DeepSeek's
    /// inference recipe; default). False keeps fp32 activations and decodes the FP8 weight in the GEMM's loader, which
    /// computes what the CPU backend computes.
    /// </summary>
    public bool Fp8Activations { get; set; } = true;

    /// <summary>
    /// Run the block-scaled FP8 GEMM on tensor cores (<c>fp8_gemm_mma</c>: E4M3 decoded to F16 exactly, <c>mma.sync</c> with fp32
    /// accumulation, the same per-128-of-K promotion) instead of scalar FMAs (<c>fp8_gemm</c>); default true. The
    /// backend verifies it against <c>fp8_gemm</c> on the GPU at the first FP8 GEMM and keeps <c>fp8_gemm</c>, with a
    /// <see cref="Warning"/>, if they disagree. Results differ from <c>fp8_gemm</c> (and the CPU twin) only by the
    /// summation order inside each 128-block of K.
    /// </summary>
    public bool Fp8TensorCores { get; set; } = true;

    /// <summary>Receives the backend's warnings (a kernel it chose not to use, and why); null writes them to standard error.</summary>
    public Action<string>? Warning { get; set; }
}
