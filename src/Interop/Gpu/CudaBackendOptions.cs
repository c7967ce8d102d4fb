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
}
