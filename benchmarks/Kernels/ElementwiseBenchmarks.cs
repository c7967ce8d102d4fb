using BenchmarkDotNet.Attributes;
using DeepSeek.Runtime.Compute;
using DeepSeek.Runtime.Compute.Cpu;
using DeepSeek.Runtime.Model;
using DeepSeek.Runtime.Tensors;

namespace DeepSeek.Benchmarks.Kernels;

/// <summary>
/// The fused element-wise kernels at V2-Lite widths: RMSNorm over the hidden size (2048), SwiGLU over the dense MLP's
/// intermediate (10944), RoPE over 16 heads' 64 rotary dims (of 192). Bytes are the activations read and written.
/// </summary>
public class ElementwiseBenchmarks : IKernelCost
{
    public const int Hidden = 2048, Intermediate = 10944, Heads = 16, HeadDim = 192, NopeDim = 128, RopeDim = 64;

    private CpuBackend _backend = null!;
    private KernelWeights _norm = null!;
    private ComputeWeight _normWeight = null!;
    private ComputeTensor _x = null!, _normed = null!, _gate = null!, _up = null!, _act = null!, _q = null!;
    private RopeTable _rope = null!;
    private int[] _positions = null!;

    [Params(1, 128)]
    public int Rows { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _backend = new CpuBackend(KernelBenchConfig.Threads);
        _norm = KernelWeights.Create(DType.F32, 1, 1, Hidden);
        _normWeight = _norm.Bind(_backend, 0);
        _x = Filled(Rows, Hidden, 1);
        _normed = _backend.Allocate(Rows, Hidden);
        _gate = Filled(Rows, Intermediate, 2);
        _up = Filled(Rows, Intermediate, 3);
        _act = _backend.Allocate(Rows, Intermediate);
        _q = Filled(Rows, Heads * HeadDim, 4);
        _rope = RopeTable.Create(RopeDim, 10000, null, 4096, RopeLayout.Interleaved);
        _positions = [.. Enumerable.Range(0, Rows).Select(r => 128 + r)];
    }

    private ComputeTensor Filled(int rows, int cols, int seed)
    {
        var t = _backend.Allocate(rows, cols);
        _backend.Upload(KernelWeights.Activations(rows * cols, seed), t);
        return t;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _norm.Dispose();
        _backend.Dispose();
    }

    [Benchmark]
    public void RmsNorm() => _backend.RmsNorm(_x, _normWeight, 1e-6f, _normed);

    [Benchmark]
    public void SwiGlu() => _backend.SwiGlu(_gate, _up, _act);

    // Rotating in place is idempotent in cost (the values only turn), so every call does the same work.
    [Benchmark]
    public void Rope() => _backend.Rope(_q, Heads, HeadDim, NopeDim, _positions, _rope);

    public KernelCost CostOf(string method) => method switch
    {
        nameof(RmsNorm) => new(Rows * Hidden * 8.0 + Hidden * 4.0, Rows * Hidden * 4.0),
        nameof(SwiGlu) => new(Rows * Intermediate * 12.0, Rows * Intermediate * 6.0),
        _ => new(Rows * Heads * RopeDim * 8.0, Rows * Heads * RopeDim * 3.0),
    };
}
