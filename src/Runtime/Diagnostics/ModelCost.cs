using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Tensors;

namespace DeepSeek.Runtime.Diagnostics;

/// <summary>
/// What one token costs the main model (MTP module excluded): weight bytes streamed and FLOPs, from the config's layout and
/// the weights' stored dtypes (FP8 weights count their <c>scale_inv</c> grids). Only activated parameters count: attention,
/// dense MLPs, shared experts, routers and norms always; routed experts as <c>num_experts_per_tok</c> of
/// <c>n_routed_experts</c>; the input embedding as one row lookup; the head in full. The roofline inputs of
/// <c>deepseek bench</c>.
/// </summary>
public sealed record ModelCost
{
    /// <summary>Bytes of the weights every token reads: attention, dense MLPs, shared experts, routers, norms (not embedding, routed experts or head).</summary>
    public required long AlwaysBytes { get; init; }

    /// <summary>Bytes of all routed experts of all MoE layers (a token reads k/n of them).</summary>
    public required long RoutedExpertBytes { get; init; }

    /// <summary>Bytes of the output head (<c>lm_head</c>, or the embedding when tied).</summary>
    public required long HeadBytes { get; init; }

    /// <summary>Bytes of one embedding row (the lookup a token costs).</summary>
    public required long EmbeddingRowBytes { get; init; }

    /// <summary>Multiply-accumulate weights every token uses (Linear and router matrices; norms excluded).</summary>
    public required long AlwaysMatMulParameters { get; init; }

    /// <summary>Multiply-accumulate weights of all routed experts.</summary>
    public required long RoutedExpertParameters { get; init; }

    /// <summary>Head parameters (vocab × hidden).</summary>
    public required long HeadParameters { get; init; }

    /// <summary>Experts each token runs (<c>num_experts_per_tok</c>; 0 for dense models).</summary>
    public required int ExpertsPerToken { get; init; }

    /// <summary>Routed experts per MoE layer (<c>n_routed_experts</c>; 0 for dense models).</summary>
    public required int RoutedExperts { get; init; }

    /// <summary>
    /// FLOPs of attention per attended position, summed over layers: MLA (absorbed form) 2·heads·(2·kv_lora_rank + qk_rope)
    /// — scores over [c_kv | k_pe] and the weighted sum of c_kv; GQA 4·heads·head_dim. The absorbed q and output
    /// projections are <c>kv_b_proj</c>'s parameters and are counted among <see cref="AlwaysMatMulParameters"/>.
    /// </summary>
    public required long AttentionFlopsPerPosition { get; init; }

    /// <summary>Weight bytes one decode step streams for a batch of one: always-read weights, k of n experts, the head, one embedding row.</summary>
    public double DecodeBytesPerToken => DecodeBytesPerStep(1);

    /// <summary>
    /// Weight bytes one decode step streams for <paramref name="batch"/> sequences: the batch shares every weight, and reads
    /// the union of the experts its tokens chose — n·(1 − (1 − k/n)^batch) per MoE layer when routing is uniform.
    /// </summary>
    public double DecodeBytesPerStep(int batch)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batch, 1);
        var expertShare = RoutedExperts == 0 ? 0 : 1 - Math.Pow(1 - (double)ExpertsPerToken / RoutedExperts, batch);
        return AlwaysBytes + (RoutedExpertBytes * expertShare) + HeadBytes + ((double)batch * EmbeddingRowBytes);
    }

    /// <summary>FLOPs of one token attending to <paramref name="attendedPositions"/> positions, with or without the head.</summary>
    public double FlopsPerToken(double attendedPositions, bool withHead)
    {
        var routed = RoutedExperts == 0 ? 0 : (double)RoutedExpertParameters * ExpertsPerToken / RoutedExperts;
        return (2.0 * (AlwaysMatMulParameters + routed + (withHead ? HeadParameters : 0))) + (AttentionFlopsPerPosition * attendedPositions);
    }

    /// <summary>
    /// Mean FLOPs per token of prefilling <paramref name="promptTokens"/> tokens: position p attends to p + 1 positions, so
    /// (P + 1)/2 on average; the head runs once per prompt (only the last position's logits are needed).
    /// </summary>
    public double PrefillFlopsPerToken(int promptTokens)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(promptTokens, 1);
        return FlopsPerToken((promptTokens + 1) / 2.0, withHead: false) + (2.0 * HeadParameters / promptTokens);
    }

    /// <summary>The cost of <paramref name="checkpoint"/>'s main model as stored (each tensor's dtype, FP8 scale grids included).</summary>
    public static ModelCost For(Checkpoint checkpoint)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        return For(checkpoint.Config, e =>
        {
            if (!checkpoint.TryGet(e.Name, out var t)) throw new CheckpointFormatException("tensor missing from the checkpoint", tensor: e.Name);
            var bytes = t.Info.ByteLength;
            if (checkpoint.TryGet(e.Name + Checkpoint.ScaleInvSuffix, out var scale)) bytes += scale.Info.ByteLength;
            return bytes;
        });
    }

    /// <summary>The cost of <paramref name="config"/> with every tensor stored as <paramref name="dtype"/> (no FP8 scale grids).</summary>
    public static ModelCost For(ModelConfig config, DType dtype) => For(config, e => e.Shape.ElementCount * dtype.SizeOf());

    /// <summary>The cost of <paramref name="config"/> with <paramref name="bytesOf"/> giving each tensor's stored bytes.</summary>
    public static ModelCost For(ModelConfig config, Func<ExpectedTensor, long> bytesOf)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(bytesOf);
        long always = 0, routed = 0, head = 0, embedRow = 0, alwaysParams = 0, routedParams = 0, headParams = 0;
        foreach (var e in WeightLayout.For(config))
        {
            if (e.IsMtp) continue;
            var bytes = bytesOf(e);
            var n = e.Shape.ElementCount;
            var matmul = e.Kind is WeightKind.Linear or WeightKind.Router;
            switch (e.Kind)
            {
                case WeightKind.Embedding:
                    embedRow = bytes / config.VocabSize;
                    if (config.TieWordEmbeddings)
                    {
                        head += bytes;
                        headParams += n;
                    }
                    break;
                case WeightKind.Head:
                    head += bytes;
                    headParams += n;
                    break;
                default:
                    if (e.Expert is not null)
                    {
                        routed += bytes;
                        routedParams += matmul ? n : 0;
                    }
                    else
                    {
                        always += bytes;
                        alwaysParams += matmul ? n : 0;
                    }
                    break;
            }
        }
        long attention = config.IsMla
            ? 2L * config.NumAttentionHeads * ((2L * config.KvLoraRank) + config.QkRopeHeadDim)
            : 4L * config.NumAttentionHeads * config.HeadDim;
        var moe = config.NRoutedExperts > 0 && Enumerable.Range(0, config.NumHiddenLayers).Any(config.IsMoeLayer);
        return new ModelCost
        {
            AlwaysBytes = always,
            RoutedExpertBytes = routed,
            HeadBytes = head,
            EmbeddingRowBytes = embedRow,
            AlwaysMatMulParameters = alwaysParams,
            RoutedExpertParameters = routedParams,
            HeadParameters = headParams,
            ExpertsPerToken = moe ? config.NumExpertsPerTok : 0,
            RoutedExperts = moe ? config.NRoutedExperts : 0,
            AttentionFlopsPerPosition = attention * config.NumHiddenLayers,
        };
    }
}
