using DeepSeek.Runtime.Tensors;

namespace DeepSeek.Runtime.Checkpoints;

/// <summary>Parameter counts implied by a config.</summary>
/// <param name="Total">Parameters of the main model (embedding, blocks, final norm, head).</param>
/// <param name="ActivatedPerToken">
/// Parameters one token's forward pass computes with: everything except the input embedding (a row lookup) and the
/// unchosen routed experts (only <c>num_experts_per_tok</c> of <c>n_routed_experts</c> count). This is DeepSeek's
/// convention: it gives their published 37B for V3 and 2.4B for V2-Lite.
/// </param>
/// <param name="Mtp">Parameters of the MTP modules, excluding their copies of the embedding and head.</param>
public readonly record struct ParameterCounts(long Total, long ActivatedPerToken, long Mtp);

/// <summary>Tensors and bytes stored in one dtype.</summary>
/// <param name="DType">The dtype.</param>
/// <param name="Tensors">How many tensors.</param>
/// <param name="Bytes">Their bytes.</param>
public readonly record struct DTypeShare(DType DType, int Tensors, long Bytes);

/// <summary>One file of a checkpoint.</summary>
/// <param name="File">File name.</param>
/// <param name="Bytes">File length.</param>
/// <param name="Tensors">Tensors it holds.</param>
public readonly record struct ShardInfo(string File, long Bytes, int Tensors);

/// <summary>What <c>deepseek inspect</c> reports about a checkpoint: architecture, sizes, dtypes, shards, problems.</summary>
public sealed class CheckpointSummary
{
    private CheckpointSummary(Checkpoint checkpoint, WeightReport report)
    {
        Config = checkpoint.Config;
        Directory = checkpoint.Directory;
        Report = report;
        Parameters = CountParameters(report.Expected, Config);
        DTypes = checkpoint.Tensors.GroupBy(t => t.DType).OrderBy(g => g.Key)
            .Select(g => new DTypeShare(g.Key, g.Count(), g.Sum(t => t.Info.ByteLength))).ToList();
        Shards = checkpoint.Files.Select(f => new ShardInfo(Path.GetFileName(f.Path), f.Length, f.Tensors.Count)).ToList();
        TensorCount = checkpoint.TensorCount;
    }

    /// <summary>The config.</summary>
    public ModelConfig Config { get; }

    /// <summary>The checkpoint folder.</summary>
    public string Directory { get; }

    /// <summary>Shape/dtype validation of every tensor.</summary>
    public WeightReport Report { get; }

    /// <summary>Parameter counts from the config's layout.</summary>
    public ParameterCounts Parameters { get; }

    /// <summary>Stored tensors per dtype.</summary>
    public IReadOnlyList<DTypeShare> DTypes { get; }

    /// <summary>The safetensors files.</summary>
    public IReadOnlyList<ShardInfo> Shards { get; }

    /// <summary>Number of stored tensors (including FP8 scale grids).</summary>
    public int TensorCount { get; }

    /// <summary>
    /// KV-cache values stored per token over all main-model layers: for MLA the latent cache
    /// (<c>kv_lora_rank + qk_rope_head_dim</c> per layer), for GQA keys and values of every KV head.
    /// </summary>
    public long KvCacheValuesPerToken => (long)Config.KvCacheValuesPerTokenPerLayer * Config.NumHiddenLayers;

    /// <summary>KV-cache bytes per token for elements of <paramref name="elementBytes"/> bytes (2 for BF16, 4 for F32).</summary>
    public long KvCacheBytesPerToken(int elementBytes) => KvCacheValuesPerToken * elementBytes;

    /// <summary>Summarises an open checkpoint.</summary>
    public static CheckpointSummary Create(Checkpoint checkpoint)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        return new CheckpointSummary(checkpoint, WeightReport.Check(checkpoint));
    }

    /// <summary>Counts parameters from the layout of <paramref name="config"/>; no checkpoint needed.</summary>
    public static ParameterCounts CountParameters(ModelConfig config) => CountParameters(WeightLayout.For(config), config);

    private static ParameterCounts CountParameters(IReadOnlyList<ExpectedTensor> layout, ModelConfig config)
    {
        long total = 0, activated = 0, mtp = 0;
        foreach (var e in layout)
        {
            var n = e.Shape.ElementCount;
            if (e.IsMtp)
            {
                if (!e.Optional) mtp += n;
                continue;
            }
            total += n;
            activated += e.Expert is null && e.Kind != WeightKind.Embedding ? n : 0;
        }
        // Routed experts: each token runs top-k of them, so k/n of their parameters are active.
        var routed = layout.Where(e => !e.IsMtp && e.Expert is not null).Sum(e => e.Shape.ElementCount);
        if (config.NRoutedExperts > 0) activated += routed / config.NRoutedExperts * config.NumExpertsPerTok;
        return new ParameterCounts(total, activated, mtp);
    }
}
