namespace DeepSeek.Benchmarks.Gpu;

/// <summary>A GEMM's N×K (weight rows × inner dimension).</summary>
public readonly record struct WeightShape(int N, int K);

/// <summary>One MLA decode case: batch of sequences, cached tokens per sequence, and the model's attention dims.</summary>
public readonly record struct MlaShape(int Batch, int Context, int Heads, int Nope, int Rope, int Latent);

/// <summary>The shapes each <c>--shapes</c> set times.</summary>
public sealed record ShapeSet(int[] DenseM, WeightShape[] Dense, int Groups, int[] RowsPerGroup, WeightShape[] Grouped, MlaShape[] Mla, int MaxLaunchesPerRepetition)
{
    /// <summary>
    /// DeepSeek-V3's (DeepGEMM's benchmark shapes): N×K of q_b-less projections and the MLP/MoE GEMMs — 7168×2048
    /// (o_proj/down), 4096×7168 (fused gate+up of an expert pair), 2112×7168 (q_a + kv_a), 24576×1536 (q_b) — at
    /// M = 128 (decode batch) and 4096 (prefill); grouped: 8 experts of the MoE's 4096×7168 and 7168×2048 in the
    /// contiguous layout; MLA: 128 heads, kv_lora 512 + rope 64, 4096 cached tokens, batch 1 and 64.
    /// </summary>
    public static ShapeSet DeepSeek { get; } = new(
        [128, 4096],
        [new(7168, 2048), new(4096, 7168), new(2112, 7168), new(24576, 1536)],
        8, [16, 512], [new(4096, 7168), new(7168, 2048)],
        [new(1, 4096, 128, 128, 64, 512), new(64, 4096, 128, 128, 64, 512)],
        1000);

    /// <summary>M = 128 only and one MLA case: a fast smoke run on a GPU.</summary>
    public static ShapeSet Quick { get; } = DeepSeek with { DenseM = [128], RowsPerGroup = [16], Mla = [new(64, 4096, 128, 128, 64, 512)], MaxLaunchesPerRepetition = 100 };

    /// <summary>Small odd shapes the kernel emulator runs in seconds (tests of this program without a GPU).</summary>
    public static ShapeSet Tiny { get; } = new([3, 70], [new(256, 384), new(320, 200)], 3, [5], [new(256, 384)], [new(2, 5, 4, 16, 16, 32)], 1);

    /// <summary>The set named by <c>--shapes</c>.</summary>
    public static ShapeSet Named(string name) => name switch
    {
        "quick" => Quick,
        "tiny" => Tiny,
        _ => DeepSeek,
    };
}
