using BenchmarkDotNet.Attributes;
using DeepSeek.Runtime.Compute;
using DeepSeek.Runtime.Compute.Cpu;
using DeepSeek.Runtime.Tensors;

namespace DeepSeek.Benchmarks.Kernels;

/// <summary>
/// Absorbed MLA at V2-Lite's shape (16 heads, nope/rope/v 128/64/128, kv_lora 512) for the last <see cref="Rows"/> tokens
/// of one sequence over a latent cache of <see cref="Context"/> tokens (1: a decode step; 2: a speculative [token, draft]
/// pair; 128: a prefill chunk, causal): q_nope absorbed through W_UK, scores against c_kv and k_pe, softmax, the weighted
/// latent sum, then W_UV — the kv_b_proj weight (BF16, 4 MiB) and the cache (576 floats per token).
/// </summary>
public class MlaAttentionBenchmarks : IKernelCost
{
    public const int Heads = 16, Nope = 128, Rope = 64, V = 128, Latent = 512;

    private CpuBackend _backend = null!;
    private KernelWeights _wkvB = null!;
    private ComputeWeight _wkvBBound = null!;
    private ComputeTensor _q = null!, _cache = null!, _out = null!;
    private TokenSlot[] _slots = null!;

    [Params(128, 2048)]
    public int Context { get; set; }

    [Params(1, 2, 128)]
    public int Rows { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _backend = new CpuBackend(KernelBenchConfig.Threads);
        _wkvB = KernelWeights.Create(DType.BF16, 1, Heads * (Nope + V), Latent);
        _wkvBBound = _wkvB.Bind(_backend, 0);
        _q = _backend.Allocate(Rows, Heads * (Nope + Rope));
        _backend.Upload(KernelWeights.Activations(Rows * Heads * (Nope + Rope)), _q);
        _cache = _backend.Allocate(Context, Latent + Rope);
        _backend.Upload(KernelWeights.Activations(Context * (Latent + Rope), 5), _cache);
        _out = _backend.Allocate(Rows, Heads * V);
        _slots = [.. Enumerable.Range(Context - Rows, Rows).Select(p => new TokenSlot(p, 0, p))];
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _wkvB.Dispose();
        _backend.Dispose();
    }

    [Benchmark]
    public void DecodeAttention() =>
        _backend.MlaAbsorbedAttention(_q, _cache, _wkvBBound, _slots, new MlaShape(Heads, Nope, Rope, V, Latent, 1f / MathF.Sqrt(Nope + Rope)), _out);

    public KernelCost CostOf(string method)
    {
        var attended = Rows * (Context - (Rows - 1) / 2.0);   // positions summed over the rows (causal)
        return new(Heads * (Nope + V) * Latent * 2.0 + Context * (Latent + Rope) * 4.0,
            2.0 * Heads * (Rows * (Nope * Latent + Latent * V) + attended * (2 * Latent + Rope)));
    }
}
