using DeepSeek.Interop.Cuda;

namespace DeepSeek.Interop.Tests.Cuda;

public class CudaExceptionTests
{
    [Fact]
    public void A_failed_call_names_the_call_the_driver_error_and_a_hint()
    {
        using var driver = new FakeCudaDriver();
        var e = Assert.Throws<CudaException>(() => driver.Check(CuResult.OutOfMemory, "cuMemAlloc_v2", "4,096 bytes"));
        Assert.Equal("cuMemAlloc_v2", e.Call);
        Assert.Equal(CuResult.OutOfMemory, e.Result);
        Assert.Equal("CUDA_ERROR_OUT_OF_MEMORY", e.ErrorName);
        Assert.Equal("out of memory", e.ErrorString);
        Assert.StartsWith("cuMemAlloc_v2 failed: CUDA_ERROR_OUT_OF_MEMORY (2): out of memory [4,096 bytes]. Hint: the GPU is out of memory", e.Message);
        Assert.False(e.IsStickyFault);
    }

    [Theory]
    [InlineData(CuResult.NoDevice, "no usable CUDA GPU")]
    [InlineData(CuResult.InvalidPtx, "could not JIT-compile the PTX")]
    [InlineData(CuResult.UnsupportedPtxVersion, "update the NVIDIA driver")]
    [InlineData(CuResult.IllegalAddress, "a kernel faulted")]
    [InlineData(CuResult.StubLibrary, "stub libcuda.so")]
    [InlineData(CuResult.LaunchOutOfResources, "registers or shared memory")]
    public void Common_causes_get_a_hint(CuResult result, string hint)
    {
        var e = new CudaException("cuSomething", result, null, null);
        Assert.Contains(hint, e.Hint, StringComparison.Ordinal);
        Assert.Contains(hint, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_code_the_driver_cannot_name_is_reported_by_number()
    {
        using var driver = new FakeCudaDriver();
        var e = driver.Error((CuResult)12345, "cuFoo");
        Assert.Equal("cuFoo failed: CUresult 12345 (12345).", e.Message);
        Assert.Null(e.Hint);
    }

    [Fact]
    public void A_known_code_without_a_driver_string_falls_back_to_its_enum_name()
    {
        using var driver = new FakeCudaDriver();
        var e = driver.Error(CuResult.InvalidHandle, "cuStreamSynchronize");
        Assert.Equal("CUDA_ERROR_InvalidHandle", e.ErrorName);
    }

    [Fact]
    public void Kernel_faults_are_sticky()
    {
        Assert.True(new CudaException("cuCtxSynchronize", CuResult.IllegalAddress, null, null).IsStickyFault);
        Assert.False(new CudaException("cuMemAlloc_v2", CuResult.OutOfMemory, null, null).IsStickyFault);
    }

    [Fact]
    public void A_fault_reported_at_synchronize_names_the_last_kernel_launched()
    {
        using var driver = new FakeCudaDriver();
        using var ctx = CudaContext.Create(driver, 0);
        ctx.LastLaunch = "fp8_gemm grid (2, 1, 1) block (256, 1, 1)";
        driver.Failures["cuCtxSynchronize"] = CuResult.IllegalAddress;
        var e = Assert.Throws<CudaException>(ctx.Synchronize);
        Assert.Contains("CUDA_ERROR_ILLEGAL_ADDRESS", e.Message, StringComparison.Ordinal);
        Assert.Contains("last kernel launched: fp8_gemm", e.Message, StringComparison.Ordinal);
        Assert.True(e.IsStickyFault);
    }

    [Fact]
    public void Out_of_memory_says_how_much_was_asked_and_how_much_is_free()
    {
        using var driver = new FakeCudaDriver { MemoryLimit = 1 << 20 };
        using var ctx = CudaContext.Create(driver, 0);
        var e = Assert.Throws<CudaException>(() => ctx.Allocate<float>(1 << 20));
        Assert.Equal(CuResult.OutOfMemory, e.Result);
        Assert.Contains("4,194,304 bytes for 1,048,576 × Single", e.Message, StringComparison.Ordinal);
        Assert.Contains("1,048,576 of 1,048,576 bytes free", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Ptx_that_fails_to_jit_surfaces_the_drivers_error_log()
    {
        using var driver = new FakeCudaDriver();
        using var ctx = CudaContext.Create(driver, 0);
        var ptx = "// FAIL_JIT\n.version 7.8\n.target sm_90\n.address_size 64\n"u8.ToArray();
        var e = Assert.Throws<CudaModuleLoadException>(() => ctx.LoadModule("broken", ptx));
        Assert.Equal("cuModuleLoadDataEx", e.Call);
        Assert.Equal(CuResult.InvalidPtx, e.Result);
        Assert.Equal("broken", e.Module);
        Assert.Equal(driver.JitErrorLog, e.ErrorLog);
        Assert.Contains("module 'broken', JIT error log: ptxas application ptx input, line 7", e.Message, StringComparison.Ordinal);
        Assert.Contains("Hint: the driver could not JIT-compile the PTX", e.Message, StringComparison.Ordinal);
        Assert.Equal(0, driver.LiveModules);
    }

    [Fact]
    public void No_device_behind_the_driver_is_a_cuda_exception_from_cuInit()
    {
        using var driver = new FakeCudaDriver();
        driver.Failures["cuInit"] = CuResult.NoDevice;
        var e = Assert.Throws<CudaException>(() => CudaContext.Create(driver, 0));
        Assert.Equal("cuInit", e.Call);
        Assert.Contains("no CUDA-capable device is detected", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Asking_for_a_device_the_driver_does_not_have_is_an_argument_error()
    {
        using var driver = new FakeCudaDriver { DeviceCount = 1 };
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => CudaContext.Create(driver, 3));
        Assert.Contains("CUDA device 3 requested, but the driver sees 1 device(s)", e.Message, StringComparison.Ordinal);
        Assert.Equal(0, driver.Retains);
    }
}
