using DeepSeek.Interop.Gpu;
using DeepSeek.Runtime.Model;

namespace DeepSeek.Interop.Tests.Gpu;

/// <summary>The kernel checks on a real GPU (through the driver's JIT of the shipped PTX). Skipped without one, saying why.</summary>
public sealed class GpuKernelTests() : KernelChecks(GpuAvailability.SkipReason is null ? new CudaBackend() : null)
{
    [GpuTheory]
    [InlineData(1, 1, 1)]
    [InlineData(3, 130, 200)]
    [InlineData(64, 256, 384)]
    [InlineData(129, 70, 1000)]
    public void Fp8_gemm_matches_its_cpu_twin_bit_for_bit(int m, int n, int k) => CheckFp8_gemm_matches_its_cpu_twin_bit_for_bit(m, n, k);

    [GpuTheory]
    [InlineData(1, 1, 1)]
    [InlineData(1, 200, 300)]
    [InlineData(3, 130, 200)]
    [InlineData(65, 70, 1000)]
    [InlineData(129, 64, 257)]
    public void Fp8_gemm_mma_matches_its_cpu_twin_within_the_summation_bound(int m, int n, int k) => CheckFp8_gemm_mma_matches_its_cpu_twin_within_the_summation_bound(m, n, k);

    [GpuFact]
    public void Fp8_gemm_mma_puts_every_element_where_the_fragment_layout_says() => CheckFp8_gemm_mma_puts_every_element_where_the_fragment_layout_says();

    [GpuTheory]
    [InlineData(256)]   // 32-bit staging loads
    [InlineData(255)]   // byte loads
    public void Fp8_gemm_mma_propagates_nan_codes_like_its_cpu_twin(int k) => CheckFp8_gemm_mma_propagates_nan_codes_like_its_cpu_twin(k);

    [GpuFact]
    public void Grouped_fp8_gemm_matches_its_cpu_twin() => CheckGrouped_fp8_gemm_matches_its_cpu_twin();

    [GpuTheory]
    [InlineData("tiny-v3")]
    [InlineData("tiny-v3-fp8")]
    [InlineData("tiny-qwen2")]
    public void Matmul_rmsnorm_embedding_and_swiglu_match_the_cpu_backend(string model) => CheckMatmul_rmsnorm_embedding_and_swiglu_match_the_cpu_backend(model);

    [GpuTheory]
    [InlineData(RopeLayout.Interleaved)]
    [InlineData(RopeLayout.Half)]
    public void Rope_matches_the_cpu_backend(RopeLayout layout) => CheckRope_matches_the_cpu_backend(layout);

    [GpuFact]
    public void Attention_and_absorbed_mla_match_the_cpu_backend() => CheckAttention_and_absorbed_mla_match_the_cpu_backend();

    [GpuFact]
    public void Cache_writes_gathers_and_scatter_adds_match_the_cpu_backend() => CheckCache_writes_gathers_and_scatter_adds_match_the_cpu_backend();

    [GpuTheory]
    [InlineData("tiny-v3")]
    [InlineData("tiny-v2-lite")]
    public void The_moe_gate_kernel_chooses_what_the_host_gate_chooses(string model) => CheckThe_moe_gate_kernel_chooses_what_the_host_gate_chooses(model);

    [GpuFact]
    public void Softmax_and_argmax_match_the_host() => CheckSoftmax_and_argmax_match_the_host();
}
