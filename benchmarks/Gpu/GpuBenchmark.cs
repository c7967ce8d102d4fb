using System.Globalization;
using System.Text.Json;
using DeepSeek.Interop.Cuda;
using DeepSeek.Interop.Gpu;

namespace DeepSeek.Benchmarks.Gpu;

/// <summary>
/// gpu-bench's entry logic: opens the GPU through the given factory, runs the chosen sections (each shape checked
/// against its CPU reference, then timed with CUDA events), prints a table as rows complete and writes the JSON
/// report. Without a usable GPU it prints one line and returns <see cref="ExitCodes.NoGpu"/>.
/// </summary>
public static class GpuBenchmark
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    /// <summary>Runs gpu-bench with <paramref name="args"/>; returns the exit code (<see cref="ExitCodes"/>).</summary>
    public static int Run(IReadOnlyList<string> args, TextWriter output, TextWriter error, Func<CudaBackend> openGpu)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        ArgumentNullException.ThrowIfNull(openGpu);
        if (args.Any(a => a is "-h" or "--help"))
        {
            output.WriteLine(BenchmarkOptions.Usage);
            return ExitCodes.Success;
        }
        BenchmarkOptions options;
        try
        {
            options = BenchmarkOptions.Parse(args);
        }
        catch (ArgumentException e)
        {
            error.WriteLine($"gpu-bench: {e.Message}");
            error.WriteLine(BenchmarkOptions.Usage);
            return ExitCodes.Usage;
        }

        CudaBackend gpu;
        try
        {
            gpu = openGpu();
        }
        // ArgumentOutOfRangeException: the driver loaded but sees no device 0.
        catch (Exception e) when (e is CudaUnavailableException or CudaException or NotSupportedException or DllNotFoundException or ArgumentOutOfRangeException)
        {
            error.WriteLine($"gpu-bench: no usable GPU, nothing measured: {OneLine(e.Message)}");
            return ExitCodes.NoGpu;
        }

        using (gpu)
            return Measure(gpu, options, output, error);
    }

    private static int Measure(CudaBackend gpu, BenchmarkOptions options, TextWriter output, TextWriter error)
    {
        var shapes = ShapeSet.Named(options.Shapes);
        var timer = new GpuTimer(gpu.Context, options.TargetMs, shapes.MaxLaunchesPerRepetition);
        var rng = new Random(20251122);
        var gemm = new GemmBenchmarks(gpu, timer, rng);
        var mla = new MlaDecodeBenchmark(gpu, timer, rng);
        var rows = new List<BenchmarkRow>();
        var failures = new List<string>();
        var errors = new List<string>();
        Dictionary<string, object?>? e2e = null;
        var started = DateTime.UtcNow;

        output.WriteLine($"gpu-bench on {gpu.Context.Device}, PTX target sm_{gpu.Kernels.Target}, shapes '{options.Shapes}'");
        output.WriteLine($"{"section",-8} {"kernel",-17} {"shape",-38} {"ms",10} {"TFLOPS",8} {"GB/s",8}  check");
        foreach (var section in options.Sections)
        {
            var cases = section switch
            {
                "fp8" => shapes.DenseM.SelectMany(m => shapes.Dense.SelectMany(w => GemmBenchmarks.Fp8Kernels.Select(kernel => (Func<BenchmarkRow>)(() => gemm.Fp8(m, w, kernel))))),
                "grouped" => shapes.RowsPerGroup.SelectMany(r => shapes.Grouped.Select(w => (Func<BenchmarkRow>)(() => gemm.Grouped(shapes.Groups, r, w)))),
                "bf16" => shapes.DenseM.SelectMany(m => shapes.Dense.Select(w => (Func<BenchmarkRow>)(() => gemm.Bf16(m, w)))),
                "mla" => shapes.Mla.Select(s => (Func<BenchmarkRow>)(() => mla.Run(s))),
                _ => [],
            };
            foreach (var run in cases)
            {
                try
                {
                    var row = run();
                    rows.Add(row);
                    output.WriteLine(Format(row));
                }
                catch (CheckFailedException e)
                {
                    failures.Add(e.Message);
                    output.WriteLine($"{section,-8} CHECK FAILED: {e.Message}");
                }
                catch (Exception e) when (e is CudaException or ArgumentException or InvalidOperationException or OutOfMemoryException)
                {
                    errors.Add($"{section}: {OneLine(e.Message)}");
                    output.WriteLine($"{section,-8} ERROR: {OneLine(e.Message)}");
                }
            }
            if (section != "e2e") continue;
            try
            {
                e2e = new DecodeBenchmark(gpu, options, output).Run();
                foreach (var (key, value) in e2e) output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"e2e      {key,-24} {value}"));
            }
            catch (Exception e) when (e is CudaException or IOException or ArgumentException or InvalidOperationException or OutOfMemoryException
                or FormatException or Runtime.Checkpoints.CheckpointFormatException or Runtime.Checkpoints.ModelConfigException)
            {
                errors.Add($"e2e: {OneLine(e.Message)}");
                output.WriteLine($"e2e      ERROR: {OneLine(e.Message)}");
            }
        }

        if (options.JsonPath is { } path)
        {
            var report = new Dictionary<string, object?>
            {
                ["tool"] = "gpu-bench",
                ["started_utc"] = started.ToString("O", CultureInfo.InvariantCulture),
                ["device"] = gpu.Context.Device,
                ["ptx_target"] = gpu.Kernels.Target,
                ["shapes"] = options.Shapes,
                ["timing"] = $"CUDA events on the default stream, median of {GpuTimer.Repetitions} repetitions of back-to-back launches filling {options.TargetMs} ms",
                ["notes"] = new[]
                {
                    "fp8/grouped: E4M3 codes with 1x128 activation and 128x128 weight scales, fp32 promotion every 128 of K, fp32 output; FLOPs = 2*M*N*K",
                    "bf16: fp32 activations x bf16 weights (what the runtime runs for non-FP8 checkpoints), fp32 output",
                    "mla: GB/s = batch*context*(latent+rope)*4 bytes of fp32 latent cache, read once per decode step",
                    "all kernels are CUDA-core fp32 FMA code: no mma/wgmma tensor-core instructions (native/ptx/README.md)",
                },
                ["results"] = rows,
                ["e2e"] = e2e,
                ["check_failures"] = failures,
                ["errors"] = errors,
                ["not_available"] = Array.Empty<string>(),
            };
            var dir = Path.GetDirectoryName(Path.GetFullPath(path));
            if (!string.IsNullOrEmpty(dir)) Directory.CreateDirectory(dir);
            File.WriteAllText(path, JsonSerializer.Serialize(report, Json));
            output.WriteLine($"wrote {path}");
        }

        if (failures.Count > 0)
        {
            error.WriteLine($"gpu-bench: {failures.Count} kernel(s) disagreed with the CPU reference; their timings were not taken");
            return ExitCodes.CheckFailed;
        }
        if (errors.Count > 0)
        {
            error.WriteLine($"gpu-bench: {errors.Count} case(s) failed: {errors[0]}");
            return ExitCodes.Error;
        }
        return ExitCodes.Success;
    }

    private static string Format(BenchmarkRow r) => string.Create(CultureInfo.InvariantCulture,
        $"{r.Section,-8} {r.Kernel,-17} {r.Shape,-38} {r.Milliseconds,10:F4} {(r.Tflops is { } t ? t.ToString("F2", CultureInfo.InvariantCulture) : "-"),8} {(r.GBs is { } g ? g.ToString("F1", CultureInfo.InvariantCulture) : "-"),8}  {r.Check}");

    private static string OneLine(string message) => message.ReplaceLineEndings(" ").Trim();
}
