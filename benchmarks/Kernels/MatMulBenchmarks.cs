using BenchmarkDotNet.Attributes;
using DeepSeek.Runtime.Compute;
using DeepSeek.Runtime.Compute.Cpu;
using DeepSeek.Runtime.Tensors;

namespace DeepSeek.Benchmarks.Kernels;

/// <summary>
/// y = x·Wᵀ on V2-Lite-sized weights (2048 × 2048), cycling through <see cref="Matrices"/> of them per call so the
/// weights stream from DRAM (16 × 8 MiB BF16 = 128 MiB, four times the 32 MiB L3) the way decode streams a model.
/// Rows 1 and 8 are decode steps (bound by bandwidth), 128 a prefill chunk (bound by FMA throughput).
/// </summary>
public class MatMulBenchmarks : IKernelCost
{
    public const int Out = 2048, In = 2048, Matrices = 16;

    private CpuBackend _backend = null!;
    private KernelWeights _weights = null!;
    private ComputeWeight[] _bound = null!;
    private ComputeTensor _x = null!, _y = null!;

    [Params(DType.F32, DType.BF16, DType.F8_E4M3)]
    public DType Weights { get; set; }

    [Params(1, 2, 8, 128)]
    public int Rows { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _backend = new CpuBackend(KernelBenchConfig.Threads);
        _weights = KernelWeights.Create(Weights, Matrices, Out, In);
        _bound = [.. Enumerable.Range(0, Matrices).Select(i => _weights.Bind(_backend, i))];
        _x = _backend.Allocate(Rows, In);
        _backend.Upload(KernelWeights.Activations(Rows * In), _x);
        _y = _backend.Allocate(Rows, Out);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _weights.Dispose();
        _backend.Dispose();
    }

    [Benchmark]
    public void MatMul()
    {
        foreach (var w in _bound) _backend.MatMul(_x, w, _y);
    }

    public KernelCost CostOf(string method) => new(
        Matrices * (Out * (double)In * KernelWeights.BytesPerWeight(Weights) + Rows * (In + Out) * 4.0),
        Matrices * 2.0 * Rows * Out * In);
}
