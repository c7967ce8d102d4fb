using System.Globalization;
using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Training;

namespace DeepSeek.Runtime.Distributed.Pipeline;

/// <summary>
/// How a decoder model is cut into <see cref="Stages"/> pipeline stages: contiguous runs of decoder layers (stage s gets layers
/// ⌊s·L/P⌋ … ⌊(s+1)·L/P⌋ − 1), the embedding on the first stage, model.norm, lm_head and the MTP modules on the last. When the
/// last stage also reads the embedding (tied head, or an MTP module without its own <c>embed_tokens</c> copy) both ends hold
/// it, as Megatron does for tied embeddings: each computes its part of the gradient and the parts are summed.
/// </summary>
internal sealed class TransformerStageLayout
{
    /// <summary>The embedding's name.</summary>
    public const string EmbeddingName = "model.embed_tokens.weight";

    private readonly int _layers;

    /// <exception cref="ArgumentException">Fewer than one stage, or more stages than decoder layers.</exception>
    internal TransformerStageLayout(ModelConfig config, int stages, bool lastStageReadsEmbedding)
    {
        ArgumentNullException.ThrowIfNull(config);
        if (stages < 1) throw new ArgumentException($"--pipeline-parallel must be at least 1, not {stages}");
        if (stages > config.NumHiddenLayers)
            throw new ArgumentException($"--pipeline-parallel {stages}: the model has only {config.NumHiddenLayers} decoder layers (num_hidden_layers) to cut into stages");
        _layers = config.NumHiddenLayers;
        Stages = stages;
        SharedEmbedding = stages > 1 && lastStageReadsEmbedding;
    }

    /// <summary>Cuts the model of <paramref name="parameters"/> into <paramref name="stages"/> stages.</summary>
    internal static TransformerStageLayout For<T>(ModelParameters<T> parameters, int stages) where T : System.Numerics.IFloatingPointIeee754<T> =>
        new(parameters.Config, stages, LastReadsEmbedding(parameters));

    /// <summary>Pipeline stages.</summary>
    public int Stages { get; }

    /// <summary>Whether the first and the last stage both hold the embedding (and sum its gradient).</summary>
    public bool SharedEmbedding { get; }

    /// <summary>The decoder layers of <paramref name="stage"/>.</summary>
    public Range Layers(int stage)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(stage);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(stage, Stages);
        return new Range(Start(stage), Start(stage + 1));
    }

    /// <summary>The stage that owns tensor <paramref name="name"/> (for the embedding: the first; the last stage may hold a copy, <see cref="Holds"/>).</summary>
    public int OwnerOf(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (name == EmbeddingName) return 0;
        const string prefix = "model.layers.";
        if (!name.StartsWith(prefix, StringComparison.Ordinal)) return Stages - 1;   // model.norm, lm_head
        var end = name.IndexOf('.', prefix.Length);
        var layer = int.Parse(name.AsSpan(prefix.Length, end - prefix.Length), CultureInfo.InvariantCulture);
        if (layer >= _layers) return Stages - 1;                                       // MTP modules
        var stage = 0;
        while (Start(stage + 1) <= layer) stage++;
        return stage;
    }

    /// <summary>Whether <paramref name="stage"/> computes a gradient of (and updates) <paramref name="name"/>.</summary>
    public bool Holds(int stage, string name) =>
        OwnerOf(name) == stage || (SharedEmbedding && stage == Stages - 1 && name == EmbeddingName);

    private int Start(int stage) => (int)((long)stage * _layers / Stages);

    private static bool LastReadsEmbedding<T>(ModelParameters<T> p) where T : System.Numerics.IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(p);
        return p.Head is null || p.Mtp.Any(m => m.Embed is null || m.Head is null && p.Head is null);
    }
}
