using System.Text.Json.Serialization;

namespace DeepSeek.Benchmarks.Gpu;

/// <summary>One timed kernel at one shape, after its correctness check passed.</summary>
/// <param name="Section">fp8, grouped, bf16 or mla.</param>
/// <param name="Kernel">The PTX entry timed.</param>
/// <param name="Shape">The shape in words, e.g. <c>M=128 N=7168 K=2048</c>.</param>
/// <param name="Milliseconds">GPU time per launch (median of the repetitions).</param>
/// <param name="Tflops">Useful FLOPs (2·M·N·K) per second, in 10¹²; null where the figure is bandwidth.</param>
/// <param name="GBs">Bytes per second in 10⁹ (for MLA: the latent cache read once); null for GEMMs.</param>
/// <param name="Check">What the correctness check compared and its largest error.</param>
public sealed record BenchmarkRow(string Section, string Kernel, string Shape, double Milliseconds, double? Tflops, [property: JsonPropertyName("gbs")] double? GBs, string Check)
{
    /// <summary>M, N, K (GEMMs), or batch, context length, heads (MLA).</summary>
    public IReadOnlyDictionary<string, long> Dimensions { get; init; } = new Dictionary<string, long>();
}
