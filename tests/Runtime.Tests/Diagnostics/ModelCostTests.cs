using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Diagnostics;
using DeepSeek.Runtime.Tensors;

namespace DeepSeek.Runtime.Tests.Diagnostics;

/// <summary>
/// The roofline accounting on tests/TestData/models/tiny-v3, by hand: vocab 256, hidden 64, 3 layers (layer 0 dense with
/// intermediate 128, layers 1–2 MoE with 8 routed experts of width 32, top-2, one shared expert), 4 heads, q_lora 48,
/// kv_lora 32, nope/rope/v 16/8/16, one MTP layer (excluded).
/// </summary>
public sealed class ModelCostTests
{
    private static ModelConfig Config
    {
        get
        {
            using var checkpoint = Checkpoint.Open(RepoPaths.TestData("models", "tiny-v3"));
            return checkpoint.Config;
        }
    }

    // Attention matrices per layer: q_a 48·64 + q_b (4·24)·48 + kv_a (32+8)·64 + kv_b (4·32)·32 + o 64·64 = 18,432.
    // Norms per layer: 64 + 64 + 48 + 32 = 208. Dense MLP: 3·128·64 = 24,576. Per MoE layer: router 8·64 = 512,
    // router bias 8, shared expert 3·32·64 = 6,144, routed experts 8·6,144 = 49,152.
    private const long AlwaysMatMul = (3 * 18_432) + 24_576 + (2 * (512 + 6_144));         // 93,184
    private const long AlwaysElements = AlwaysMatMul + (3 * 208) + (2 * 8) + 64;          // + norms, router biases, model.norm
    private const long Routed = 2 * 49_152;
    private const long Head = 256 * 64;

    [Fact]
    public void Bf16_costs_match_the_hand_count()
    {
        var cost = ModelCost.For(Config, DType.BF16);
        Assert.Equal(AlwaysMatMul, cost.AlwaysMatMulParameters);
        Assert.Equal(2 * AlwaysElements, cost.AlwaysBytes);
        Assert.Equal(Routed, cost.RoutedExpertParameters);
        Assert.Equal(2 * Routed, cost.RoutedExpertBytes);
        Assert.Equal(Head, cost.HeadParameters);
        Assert.Equal(2 * Head, cost.HeadBytes);
        Assert.Equal(128, cost.EmbeddingRowBytes);
        Assert.Equal((2, 8), (cost.ExpertsPerToken, cost.RoutedExperts));
        // MLA absorbed: 2·heads·(2·kv_lora + rope) per attended position per layer.
        Assert.Equal(3 * 2 * 4 * ((2 * 32) + 8), cost.AttentionFlopsPerPosition);

        // Decode, batch 1: always + 2 of 8 experts + head + one embedding row = 187,776 + 49,152 + 32,768 + 128.
        Assert.Equal(269_824, cost.DecodeBytesPerToken);
        // Batch 2 reads the union of two tokens' experts: 1 − (6/8)² = 0.4375 of them, and two embedding rows.
        Assert.Equal(187_776 + (196_608 * 0.4375) + 32_768 + 256, cost.DecodeBytesPerStep(2), 6);
        // Large batches read every expert.
        Assert.Equal(187_776 + 196_608 + 32_768 + (1000 * 128), cost.DecodeBytesPerStep(1000), 0);

        // FLOPs: 2·(matmul weights used) + attention. With head and 10 positions: 2·(93,184 + 24,576 + 16,384) + 1,728·10.
        Assert.Equal(268_288 + 17_280, cost.FlopsPerToken(10, withHead: true), 6);
        // Prefill of 8: positions attend to 1…8 (mean 4.5); the head runs once for the 8 tokens.
        Assert.Equal((2 * (93_184 + 24_576)) + (1_728 * 4.5) + (2.0 * Head / 8), cost.PrefillFlopsPerToken(8), 6);
    }

    [Fact]
    public void A_checkpoint_counts_each_tensor_as_stored()
    {
        using var checkpoint = Checkpoint.Open(RepoPaths.TestData("models", "tiny-v3"));
        var cost = ModelCost.For(checkpoint);
        // tiny-v3 is BF16 except the two main-model router biases (F32: 8 values, 4 bytes each).
        Assert.Equal((2 * AlwaysElements) + (2 * 8 * 2), cost.AlwaysBytes);
        Assert.Equal(2 * Routed, cost.RoutedExpertBytes);
        Assert.Equal(2 * Head, cost.HeadBytes);
    }

    [Fact]
    public void Fp8_weights_count_one_byte_each_plus_their_scale_grids()
    {
        using var checkpoint = Checkpoint.Open(Path.Combine(RepoPaths.Repo, "samples", "checkpoints", "tiny-deepseek-v3"));
        var config = checkpoint.Config;
        var cost = ModelCost.For(checkpoint);
        // Expected from the layout: decoder-layer Linear weights are FP8 (1 byte) with an F32 grid of ⌈out/128⌉·⌈in/128⌉,
        // router biases F32, everything else BF16.
        long always = 0, routed = 0;
        foreach (var e in WeightLayout.For(config).Where(e => !e.IsMtp && e.Kind is not (WeightKind.Embedding or WeightKind.Head)))
        {
            var bytes = e.Kind == WeightKind.Linear
                ? e.Shape.ElementCount + (4 * ((e.Shape[0] + 127) / 128) * ((e.Shape[1] + 127) / 128))
                : e.Shape.ElementCount * (e.Kind == WeightKind.RouterBias ? 4 : 2);
            if (e.Expert is null) always += bytes;
            else routed += bytes;
        }
        Assert.Equal(always, cost.AlwaysBytes);
        Assert.Equal(routed, cost.RoutedExpertBytes);
        Assert.Equal(2L * config.VocabSize * config.HiddenSize, cost.HeadBytes);
    }

    [Fact]
    public void Bad_arguments_are_rejected()
    {
        var cost = ModelCost.For(Config, DType.BF16);
        Assert.Throws<ArgumentOutOfRangeException>(() => cost.DecodeBytesPerStep(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => cost.PrefillFlopsPerToken(0));
    }
}
