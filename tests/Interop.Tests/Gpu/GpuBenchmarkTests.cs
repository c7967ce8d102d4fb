using System.Text.Json;
using DeepSeek.Benchmarks.Gpu;
using DeepSeek.Interop.Cuda;
using DeepSeek.Interop.Gpu;
using DeepSeek.Interop.Tests.Cuda;

namespace DeepSeek.Interop.Tests.Gpu;

/// <summary>
/// gpu-bench (benchmarks/Gpu) without a GPU: every way of not having one ends in exit code 3 and one line on stderr;
/// and on the kernel emulator every section runs at tiny shapes, passes its correctness check and lands in the JSON.
/// </summary>
public sealed class GpuBenchmarkTests
{
    [Fact]
    public void Without_a_driver_it_prints_one_line_and_exits_with_the_no_gpu_code()
    {
        var (code, output, error) = Run([], () => throw new CudaUnavailableException("No NVIDIA driver: libcuda.so.1 or libcuda.so not found."));
        Assert.Equal(ExitCodes.NoGpu, code);
        Assert.Equal("gpu-bench: no usable GPU, nothing measured: No NVIDIA driver: libcuda.so.1 or libcuda.so not found.", error.TrimEnd());
        Assert.Single(error.TrimEnd().Split('\n'));
        Assert.Empty(output);
    }

    [Fact]
    public void On_this_machine_without_a_gpu_the_real_entry_exits_with_the_no_gpu_code()
    {
        if (GpuAvailability.SkipReason is null) return;   // a GPU here: the benchmark would run for minutes
        var (code, _, error) = Run([], () => new CudaBackend());
        Assert.Equal(ExitCodes.NoGpu, code);
        Assert.StartsWith("gpu-bench: no usable GPU", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("no device")]
    [InlineData("zero devices")]
    [InlineData("sm_75")]
    public void A_driver_without_a_usable_device_is_the_no_gpu_code_too(string situation)
    {
        using var driver = new FakeCudaDriver();
        switch (situation)
        {
            case "no device": driver.Failures["cuInit"] = CuResult.NoDevice; break;
            case "zero devices": driver.DeviceCount = 0; break;
            default: driver.ComputeCapability = 75; break;
        }
        var (code, _, error) = Run([], () => new CudaBackend(CudaContext.Create(driver, 0), new CudaBackendOptions()));
        Assert.Equal(ExitCodes.NoGpu, code);
        Assert.Single(error.TrimEnd().Split('\n'));
        Assert.StartsWith("gpu-bench: no usable GPU", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--sections", "gemm")]
    [InlineData("--shapes", "huge")]
    [InlineData("--json")]
    [InlineData("--frobnicate")]
    public void A_wrong_command_line_is_the_usage_code_before_any_gpu_is_opened(params string[] args)
    {
        var (code, _, error) = Run(args, () => throw new InvalidOperationException("must not be opened"));
        Assert.Equal(ExitCodes.Usage, code);
        Assert.Contains("usage: gpu-bench", error, StringComparison.Ordinal);
    }

    [EmulatorFact]
    public void On_the_kernel_emulator_every_section_checks_times_and_reports()
    {
        var dir = Directory.CreateTempSubdirectory("gpu-bench-test").FullName;
        try
        {
            var json = Path.Combine(dir, "gpu.json");
            var (backend, driver) = KernelEmulator.CreateBackend();
            using (driver)
            {
                var (code, output, error) = Run(
                    ["--shapes", "tiny", "--sections", "fp8,grouped,bf16,mla,e2e", "--json", json,
                     "--e2e-config", Path.Combine(RepoPaths.Model("tiny-v2-lite"), "config.json"), "--e2e-layers", "2", "--prompt-tokens", "3", "--gen-tokens", "2"],
                    () => backend);
                Assert.True(code == ExitCodes.Success, $"exit {code}\n{output}\n{error}");
            }
            using var report = JsonDocument.Parse(File.ReadAllText(json));
            var results = report.RootElement.GetProperty("results").EnumerateArray().ToArray();
            // tiny: 2 M × 2 N×K for fp8 (× fp8_gemm and fp8_gemm_mma) and bf16, 1 grouped, 1 MLA.
            Assert.Equal(4, results.Count(r => r.GetProperty("kernel").GetString() == "fp8_gemm"));
            Assert.Equal(4, results.Count(r => r.GetProperty("kernel").GetString() == "fp8_gemm_mma"));
            Assert.Equal(4, results.Count(r => r.GetProperty("section").GetString() == "bf16"));
            Assert.Single(results, r => r.GetProperty("section").GetString() == "grouped");
            Assert.Single(results, r => r.GetProperty("section").GetString() == "mla");
            // The emulator runs the FP8 kernels' exact host arithmetic (its mma sums in k order): the twin must agree bit for bit.
            Assert.All(results.Where(r => r.GetProperty("kernel").GetString()!.StartsWith("fp8", StringComparison.Ordinal)),
                r => Assert.StartsWith("bit-exact", r.GetProperty("check").GetString(), StringComparison.Ordinal));
            Assert.All(results, r => Assert.True(r.GetProperty("milliseconds").GetDouble() > 0));
            Assert.True(results.Single(r => r.GetProperty("section").GetString() == "mla").GetProperty("gbs").GetDouble() > 0);
            Assert.All(results.Where(r => r.GetProperty("section").GetString() != "mla"), r => Assert.True(r.GetProperty("dimensions").GetProperty("k").GetInt64() > 0));
            var e2e = report.RootElement.GetProperty("e2e");
            Assert.Equal(2, e2e.GetProperty("layers").GetInt32());
            Assert.True(e2e.GetProperty("decode_tokens_per_s").GetDouble() > 0);
            Assert.Empty(report.RootElement.GetProperty("check_failures").EnumerateArray());
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static (int Code, string Output, string Error) Run(string[] args, Func<CudaBackend> open)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var code = GpuBenchmark.Run(args, output, error, open);
        return (code, output.ToString(), error.ToString());
    }
}
