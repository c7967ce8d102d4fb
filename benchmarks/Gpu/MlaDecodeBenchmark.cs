using DeepSeek.Interop.Cuda;
using DeepSeek.Interop.Gpu;

namespace DeepSeek.Benchmarks.Gpu;

/// <summary>
/// Absorbed-MLA decode attention (<c>mla_attend</c>): one new token per sequence attending to its whole latent cache
/// (kv_lora_rank + qk_rope fp32 values per cached token). The figure is the cache read once per step — batch ×
/// context × (latent + rope) × 4 bytes — over the kernel's time, as FlashMLA reports it; the kernel itself reads each
/// row once per head, which the L2 cache absorbs or not. Checked first against a float64 online-free softmax on the
/// last sequence's first and last head.
/// </summary>
internal sealed class MlaDecodeBenchmark(CudaBackend gpu, GpuTimer timer, Random rng)
{
    private const int Threads = 128;   // ATT_THREADS in attention.cu
    private CudaContext Context => gpu.Context;

    public BenchmarkRow Run(MlaShape s)
    {
        int pairs = s.Batch * s.Heads, width = s.Latent + s.Rope, qWidth = s.Heads * (s.Nope + s.Rope);
        long rows = (long)s.Batch * s.Context;
        var scale = 1f / MathF.Sqrt(s.Nope + s.Rope);
        var ql = HostData.Floats(rng, (long)pairs * s.Latent);     // (B·H, latent) q absorbed into the latent space
        var q = HostData.Floats(rng, (long)s.Batch * qWidth);      // (B, H·(nope+rope)); only the rope part is read
        var cache = HostData.Floats(rng, rows * width);            // (B·L, latent + rope)
        // (cache_row, first_row, position) per token: sequence b owns rows [b·L, (b+1)·L) and decodes at position L−1.
        var slots = Enumerable.Range(0, s.Batch).SelectMany(b => new[] { b * s.Context + s.Context - 1, b * s.Context, s.Context - 1 }).ToArray();
        using var dql = HostData.Upload(Context, ql);
        using var dq = HostData.Upload(Context, q);
        using var dcache = HostData.Upload(Context, cache);
        using var dslots = HostData.Upload(Context, slots);
        using var dol = Context.Allocate<float>((long)pairs * s.Latent);
        var kernel = gpu.Kernels.Get(new KernelKey("mla_attend"));
        var args = new KernelArguments().Add(dql).Add(dq).Add((long)qWidth).Add(dcache).Add((long)width).Add(dslots)
            .Add(s.Heads).Add(s.Nope).Add(s.Rope).Add(s.Latent).Add(scale).Add(dol);
        void Launch() => kernel.Launch(pairs, Threads, args);

        Launch();
        Context.Synchronize();
        var b = s.Batch - 1;
        var heads = s.Heads == 1 ? new[] { 0 } : new[] { 0, s.Heads - 1 };
        var expected = new List<float>();
        var actual = new List<float>();
        foreach (var h in heads)
        {
            expected.AddRange(Reference(s, ql, q, cache, b, h, scale));
            actual.AddRange(HostData.DownloadRow(dol, (long)b * s.Heads + h, s.Latent));
        }
        var check = HostData.Compare($"mla_attend B={s.Batch} L={s.Context} H={s.Heads}", expected.ToArray(), actual.ToArray(), 1e-4);
        var ms = timer.Measure(Launch);
        var bytes = rows * width * sizeof(float);
        return new BenchmarkRow("mla", "mla_attend", $"B={s.Batch} L={s.Context} H={s.Heads} latent={s.Latent}+{s.Rope}", ms, null, ms > 0 ? bytes / (ms * 1e-3) / 1e9 : null, check)
        {
            Dimensions = new Dictionary<string, long> { ["batch"] = s.Batch, ["context"] = s.Context, ["heads"] = s.Heads, ["latent"] = s.Latent, ["rope"] = s.Rope, ["cache_bytes"] = bytes },
        };
    }

    /// <summary>o_latent of (sequence b, head h): softmax over the cache rows of (ql·c_kv + q_pe·k_pe)·scale, in float64.</summary>
    private static float[] Reference(MlaShape s, float[] ql, float[] q, float[] cache, int b, int h, float scale)
    {
        int width = s.Latent + s.Rope;
        long qlRow = ((long)b * s.Heads + h) * s.Latent, qpe = (long)b * s.Heads * (s.Nope + s.Rope) + (long)h * (s.Nope + s.Rope) + s.Nope;
        var scores = new double[s.Context];
        for (var j = 0; j < s.Context; j++)
        {
            var row = ((long)b * s.Context + j) * width;
            double dot = 0;
            for (var c = 0; c < s.Latent; c++) dot += (double)ql[qlRow + c] * cache[row + c];
            for (var r = 0; r < s.Rope; r++) dot += (double)q[qpe + r] * cache[row + s.Latent + r];
            scores[j] = dot * scale;
        }
        var max = scores.Max();
        var sum = 0.0;
        for (var j = 0; j < s.Context; j++) sum += scores[j] = Math.Exp(scores[j] - max);
        var o = new double[s.Latent];
        for (var j = 0; j < s.Context; j++)
        {
            var row = ((long)b * s.Context + j) * width;
            for (var c = 0; c < s.Latent; c++) o[c] += scores[j] / sum * cache[row + c];
        }
        return [.. o.Select(v => (float)v)];
    }
}
