using DeepSeek.Interop.Gpu;
using DeepSeek.Runtime.Model;

namespace DeepSeek.Interop.Tests.Gpu;

/// <summary>
/// The kernel checks with the same .cu sources compiled for the host and run by the kernel emulator (sm_80 code paths:
/// integer E4M3 decode/encode) — what CI can run without a GPU. Skipped, saying why, where no C++ compiler exists.
/// </summary>
public sealed class EmulatedKernelTests : KernelChecks
{
    public EmulatedKernelTests() : this(KernelEmulator.SkipReason is null ? KernelEmulator.CreateBackend() : default)
    {
    }

    private EmulatedKernelTests((CudaBackend Backend, Cuda.FakeCudaDriver Driver) emulated) : base(emulated.Backend, emulated.Driver)
    {
    }

    [EmulatorTheory]
    [InlineData(1, 1, 1)]
    [InlineData(3, 130, 200)]
    [InlineData(64, 256, 384)]
    [InlineData(129, 70, 1000)]
    public void Fp8_gemm_matches_its_cpu_twin_bit_for_bit(int m, int n, int k) => CheckFp8_gemm_matches_its_cpu_twin_bit_for_bit(m, n, k);

    [EmulatorTheory]
    [InlineData(1, 1, 1)]
    [InlineData(1, 200, 300)]
    [InlineData(3, 130, 200)]
    [InlineData(65, 70, 1000)]
    [InlineData(129, 64, 257)]
    public void Fp8_gemm_mma_matches_its_cpu_twin_within_the_summation_bound(int m, int n, int k) => CheckFp8_gemm_mma_matches_its_cpu_twin_within_the_summation_bound(m, n, k);

    [EmulatorFact]
    public void Fp8_gemm_mma_puts_every_element_where_the_fragment_layout_says() => CheckFp8_gemm_mma_puts_every_element_where_the_fragment_layout_says();

    [EmulatorTheory]
    [InlineData(256)]   // 32-bit staging loads
    [InlineData(255)]   // byte loads
    public void Fp8_gemm_mma_propagates_nan_codes_like_its_cpu_twin(int k) => CheckFp8_gemm_mma_propagates_nan_codes_like_its_cpu_twin(k);

    [EmulatorFact]
    public void Grouped_fp8_gemm_matches_its_cpu_twin() => CheckGrouped_fp8_gemm_matches_its_cpu_twin();

    [EmulatorTheory]
    [InlineData("tiny-v3")]
    [InlineData("tiny-v3-fp8")]
    [InlineData("tiny-qwen2")]
    public void Matmul_rmsnorm_embedding_and_swiglu_match_the_cpu_backend(string model) => CheckMatmul_rmsnorm_embedding_and_swiglu_match_the_cpu_backend(model);

    [EmulatorTheory]
    [InlineData(RopeLayout.Interleaved)]
    [InlineData(RopeLayout.Half)]
    public void Rope_matches_the_cpu_backend(RopeLayout layout) => CheckRope_matches_the_cpu_backend(layout);

    [EmulatorFact]
    public void Attention_and_absorbed_mla_match_the_cpu_backend() => CheckAttention_and_absorbed_mla_match_the_cpu_backend();

    [EmulatorFact]
    public void Cache_writes_gathers_and_scatter_adds_match_the_cpu_backend() => CheckCache_writes_gathers_and_scatter_adds_match_the_cpu_backend();

    [EmulatorTheory]
    [InlineData("tiny-v3")]
    [InlineData("tiny-v2-lite")]
    public void The_moe_gate_kernel_chooses_what_the_host_gate_chooses(string model) => CheckThe_moe_gate_kernel_chooses_what_the_host_gate_chooses(model);

    [EmulatorFact]
    public void Softmax_and_argmax_match_the_host() => CheckSoftmax_and_argmax_match_the_host();
}
