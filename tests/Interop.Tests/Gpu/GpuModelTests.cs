using DeepSeek.Interop.Gpu;
using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Compute;
using DeepSeek.Runtime.Compute.Cpu;
using DeepSeek.Runtime.Model;

namespace DeepSeek.Interop.Tests.Gpu;

/// <summary>The checkpoints, MLA modes and FP8-activation settings both model comparisons run, with their tolerances.</summary>
public static class ModelCases
{
    /// <summary>(model, MLA mode, FP8 activations, tolerance): FP8 activations quantise, hence the wider tolerance.</summary>
    public static TheoryData<string, MlaMode, bool, float> All => new()
    {
        { "tiny-v3", MlaMode.Absorbed, false, 1e-4f },
        { "tiny-v3", MlaMode.Plain, false, 1e-4f },
        { "tiny-v3-fp8", MlaMode.Absorbed, false, 1e-4f },
        { "tiny-v2-lite", MlaMode.Absorbed, false, 1e-4f },
        { "tiny-qwen2", MlaMode.Absorbed, false, 1e-4f },
        { "tiny-llama", MlaMode.Absorbed, false, 1e-4f },
        { "tiny-v3-fp8", MlaMode.Absorbed, true, 0.1f },
    };
}

/// <summary>Full-model logits on the tiny checkpoints, GPU against the CPU engine. Skipped without a GPU.</summary>
public class GpuModelTests
{
    [GpuTheory]
    [MemberData(nameof(ModelCases.All), MemberType = typeof(ModelCases))]
    public void Prefill_and_decode_logits_match_the_cpu_engine(string model, MlaMode mode, bool fp8Activations, float tolerance)
    {
        using var gpu = new CudaBackend(new CudaBackendOptions { Fp8Activations = fp8Activations });
        ModelChecks.CompareWithCpu(gpu, model, mode, tolerance);
    }
}

/// <summary>The same comparison with the kernels running in the host emulator: what CI can check without a GPU.</summary>
public class EmulatedModelTests
{
    [EmulatorTheory]
    [MemberData(nameof(ModelCases.All), MemberType = typeof(ModelCases))]
    public void Prefill_and_decode_logits_match_the_cpu_engine(string model, MlaMode mode, bool fp8Activations, float tolerance)
    {
        var (backend, driver) = KernelEmulator.CreateBackend(fp8Activations);
        using (driver)
        using (backend)
            ModelChecks.CompareWithCpu(backend, model, mode, tolerance);
    }
}

internal static class ModelChecks
{
    // W8A8 (fp8Activations) quantises activations per 1×128 tile: E4M3 rounding (≤ 2^-4 per factor) bounds the drift,
    // not fp32 rounding, hence its looser tolerance (relative to the largest logit).
    public static void CompareWithCpu(CudaBackend backend, string model, MlaMode mode, float tolerance)
    {
        using var checkpoint = Checkpoint.Open(RepoPaths.Model(model));
        var weights = WeightMap.Bind(checkpoint);
        // The fp32 CPU path: the GPU kernels keep fp32 activations, the native BF16 GEMM would round them to bf16.
        using var cpuBackend = new CpuBackend(2) { NativeKernels = false };
        var cpu = Logits(cpuBackend, weights, mode);
        var onGpu = Logits(backend, weights, mode);
        KernelChecks.AssertClose(cpu, onGpu, tolerance, $"{model} logits");
    }

    private static float[] Logits(IComputeBackend backend, WeightMap weights, MlaMode mode)
    {
        var transformer = new Transformer(backend, weights, 64, mode);
        var cache = transformer.CreateCache(2, 32);
        var vocab = transformer.VocabSize;
        var logits = new float[7 * vocab];
        transformer.Forward([1, 2, 3, 4, 5], [0, 0, 0, 1, 1], cache, [0, 1, 2, 3, 4], logits.AsSpan(0, 5 * vocab));
        transformer.Forward([6, 7], [0, 1], cache, [0, 1], logits.AsSpan(5 * vocab, 2 * vocab));
        return logits;
    }
}
