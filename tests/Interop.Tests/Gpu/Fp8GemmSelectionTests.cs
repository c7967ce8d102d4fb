using DeepSeek.Interop.Cuda;
using DeepSeek.Interop.Gpu;
using DeepSeek.Interop.Tests.Cuda;
using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Model;

namespace DeepSeek.Interop.Tests.Gpu;

/// <summary>
/// How the backend picks its FP8 GEMM: fp8_gemm_mma only after it agreed with fp8_gemm on the device (here the
/// emulator, or an emulator with a broken tensor-core kernel), fp8_gemm with a warning otherwise, decided once.
/// </summary>
public sealed class Fp8GemmSelectionTests
{
    [EmulatorFact]
    public void Tensor_cores_are_used_once_they_agree_with_the_scalar_kernel()
    {
        var (backend, driver) = KernelEmulator.CreateBackend();
        using var _ = driver;
        using var __ = backend;
        var warnings = new List<string>();
        backend.Options.Warning = warnings.Add;
        Assert.Null(backend.Fp8GemmKernel);
        Fp8MatMulTwice(backend);
        Assert.Equal("fp8_gemm_mma", backend.Fp8GemmKernel);
        Assert.Empty(warnings);
        var gemms = driver.Launches.Select(l => l.Kernel).Where(k => k.StartsWith("fp8_gemm", StringComparison.Ordinal)).ToArray();
        Assert.Equal(["fp8_gemm", "fp8_gemm_mma", "fp8_gemm_mma", "fp8_gemm_mma"], gemms);   // the check, then both matmuls
    }

    [EmulatorFact]
    public void A_tensor_core_kernel_that_disagrees_is_replaced_by_the_scalar_one_with_a_warning()
    {
        var (backend, driver) = KernelEmulator.CreateBackend();
        using var _ = driver;
        using var __ = backend;
        var run = driver.Execute!;
        // A broken fp8_gemm_mma: launches fine, computes nothing (its output keeps the check's NaN prefill).
        driver.Execute = (kernel, grid, block, args) => kernel == "fp8_gemm_mma" ? CuResult.Success : run(kernel, grid, block, args);
        var warnings = new List<string>();
        backend.Options.Warning = warnings.Add;
        Fp8MatMulTwice(backend);
        Assert.Equal("fp8_gemm", backend.Fp8GemmKernel);
        var warning = Assert.Single(warnings);
        Assert.Contains("fp8_gemm_mma) disagreed with fp8_gemm", warning, StringComparison.Ordinal);
        Assert.Contains("tensor cores NaN", warning, StringComparison.Ordinal);
        Assert.Single(driver.Launches, l => l.Kernel == "fp8_gemm_mma");                // only the check
        Assert.Equal(3, driver.Launches.Count(l => l.Kernel == "fp8_gemm"));            // the check, then both matmuls
    }

    [Fact]
    public void Without_tensor_cores_requested_no_check_runs()
    {
        using var driver = new FakeCudaDriver();
        using var backend = new CudaBackend(CudaContext.Create(driver, 0), new CudaBackendOptions { Fp8TensorCores = false });
        Fp8MatMulTwice(backend);
        Assert.Equal("fp8_gemm", backend.Fp8GemmKernel);
        Assert.DoesNotContain(driver.Launches, l => l.Kernel == "fp8_gemm_mma");
        Assert.Equal(2, driver.Launches.Count(l => l.Kernel == "fp8_gemm"));
    }

    private static void Fp8MatMulTwice(CudaBackend backend)
    {
        using var checkpoint = Checkpoint.Open(RepoPaths.Model("tiny-v3-fp8"));
        var weights = WeightMap.Bind(checkpoint);
        var wo = weights.Blocks[0].Mla!.Wo;
        Assert.True(wo.IsFp8);
        var w = backend.Bind(wo);
        var x = backend.Allocate(3, w.Cols);
        backend.Upload(Enumerable.Range(0, 3 * w.Cols).Select(i => MathF.Sin(i)).ToArray(), x);
        var y = backend.Allocate(3, w.Rows);
        backend.MatMul(x, w, y);
        backend.MatMul(x, w, y);
        backend.Synchronize();
    }
}
