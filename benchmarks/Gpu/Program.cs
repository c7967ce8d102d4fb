using DeepSeek.Benchmarks.Gpu;
using DeepSeek.Interop.Gpu;

return GpuBenchmark.Run(args, Console.Out, Console.Error, () => new CudaBackend());
