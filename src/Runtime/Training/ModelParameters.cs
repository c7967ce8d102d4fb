using System.Numerics;
using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Training.Layers;

namespace DeepSeek.Runtime.Training;

/// <summary>One decoder block's trainable tensors.</summary>
public sealed class BlockParameters<T> where T : IFloatingPointIeee754<T>
{
    internal BlockParameters(ModelConfig c, int layer)
    {
        AttnNorm = new T[c.HiddenSize];
        FfnNorm = new T[c.HiddenSize];
        if (c.IsMla) Mla = new MlaParameters<T>(c);
        else Gqa = new GqaParameters<T>(c);
        if (c.IsMoeLayer(layer)) Moe = new MoeParameters<T>(c);
        else Mlp = new MlpParameters<T>(c.HiddenSize, c.IntermediateSize);
    }

    /// <summary><c>input_layernorm</c>.</summary>
    public T[] AttnNorm { get; }
    /// <summary><c>post_attention_layernorm</c>.</summary>
    public T[] FfnNorm { get; }
    /// <summary>MLA attention (DeepSeek).</summary>
    public MlaParameters<T>? Mla { get; }
    /// <summary>GQA attention (distills).</summary>
    public GqaParameters<T>? Gqa { get; }
    /// <summary>Dense MLP.</summary>
    public MlpParameters<T>? Mlp { get; }
    /// <summary>MoE.</summary>
    public MoeParameters<T>? Moe { get; }

    internal IEnumerable<(string Name, T[] Values)> Tensors(string prefix)
    {
        yield return (prefix + "input_layernorm.weight", AttnNorm);
        yield return (prefix + "post_attention_layernorm.weight", FfnNorm);
        if (Mla is not null) foreach (var (n, v) in Mla.Tensors()) yield return ($"{prefix}self_attn.{n}.weight", v);
        if (Gqa is not null) foreach (var (n, v) in Gqa.Tensors()) yield return ($"{prefix}self_attn.{n}", v);
        if (Mlp is not null) foreach (var (n, v) in Mlp.Tensors()) yield return ($"{prefix}mlp.{n}.weight", v);
        if (Moe is not null) foreach (var (n, v) in Moe.Tensors()) yield return ($"{prefix}mlp.{n}.weight", v);
    }
}

/// <summary>An MTP module's trainable tensors (its embedding/head copies only when the checkpoint has them).</summary>
public sealed class MtpParameters<T> where T : IFloatingPointIeee754<T>
{
    internal MtpParameters(ModelConfig c, int layer, bool ownEmbed, bool ownHead)
    {
        int h = c.HiddenSize;
        Layer = layer;
        ENorm = new T[h];
        HNorm = new T[h];
        EhProj = new T[h * 2 * h];
        Block = new BlockParameters<T>(c, layer);
        HeadNorm = new T[h];
        Embed = ownEmbed ? new T[c.VocabSize * h] : null;
        Head = ownHead ? new T[c.VocabSize * h] : null;
    }

    /// <summary>Layer index (≥ num_hidden_layers).</summary>
    public int Layer { get; }
    /// <summary><c>enorm</c>.</summary>
    public T[] ENorm { get; }
    /// <summary><c>hnorm</c>.</summary>
    public T[] HNorm { get; }
    /// <summary><c>eh_proj</c> [hidden, 2·hidden].</summary>
    public T[] EhProj { get; }
    /// <summary>The module's decoder block.</summary>
    public BlockParameters<T> Block { get; }
    /// <summary><c>shared_head.norm</c>.</summary>
    public T[] HeadNorm { get; }
    /// <summary>Own <c>embed_tokens</c> copy, or null to use the main embedding.</summary>
    public T[]? Embed { get; }
    /// <summary>Own <c>shared_head.head</c> copy, or null to use the main head.</summary>
    public T[]? Head { get; }

    internal IEnumerable<(string Name, T[] Values)> Tensors()
    {
        var p = WeightLayout.LayerPrefix(Layer);
        if (Embed is not null) yield return (p + "embed_tokens.weight", Embed);
        yield return (p + "enorm.weight", ENorm);
        yield return (p + "hnorm.weight", HNorm);
        yield return (p + "eh_proj.weight", EhProj);
        foreach (var t in Block.Tensors(p)) yield return t;
        yield return (p + "shared_head.norm.weight", HeadNorm);
        if (Head is not null) yield return (p + "shared_head.head.weight", Head);
    }
}

/// <summary>
/// Every trainable tensor of a model as master values of type <typeparamref name="T"/> (fp32 for training,
/// fp64 for gradient checks), addressable by Hugging Face name; a second instance of the same shape holds gradients.
/// The routers' <c>e_score_correction_bias</c> is kept beside them: it steers the choice and is updated by
/// <see cref="AuxLossFreeBalancer"/>, never by gradients.
/// </summary>
public sealed class ModelParameters<T> where T : IFloatingPointIeee754<T>
{
    private readonly Dictionary<string, T[]> _byName;

    private ModelParameters(ModelConfig config, bool mtpOwnEmbed, bool mtpOwnHead)
    {
        Config = config;
        Embed = new T[config.VocabSize * config.HiddenSize];
        Blocks = Enumerable.Range(0, config.NumHiddenLayers).Select(l => new BlockParameters<T>(config, l)).ToArray();
        Norm = new T[config.HiddenSize];
        Head = config.TieWordEmbeddings ? null : new T[config.VocabSize * config.HiddenSize];
        Mtp = Enumerable.Range(config.NumHiddenLayers, config.NumNextNPredictLayers).Select(l => new MtpParameters<T>(config, l, mtpOwnEmbed, mtpOwnHead)).ToArray();
        RouterBias = Enumerable.Range(0, config.NumHiddenLayers + config.NumNextNPredictLayers)
            .Select(l => config.IsMoeLayer(l) && config.TopKMethod == TopKMethod.NoAuxTc ? new float[config.NRoutedExperts] : null).ToArray();
        _byName = Tensors().ToDictionary(t => t.Name, t => t.Values, StringComparer.Ordinal);
    }

    /// <summary>The model config.</summary>
    public ModelConfig Config { get; }
    /// <summary><c>model.embed_tokens.weight</c>.</summary>
    public T[] Embed { get; }
    /// <summary>Decoder blocks.</summary>
    public BlockParameters<T>[] Blocks { get; }
    /// <summary><c>model.norm.weight</c>.</summary>
    public T[] Norm { get; }
    /// <summary><c>lm_head.weight</c>, or null when tied to <see cref="Embed"/>.</summary>
    public T[]? Head { get; }
    /// <summary>MTP modules.</summary>
    public MtpParameters<T>[] Mtp { get; }
    /// <summary><c>e_score_correction_bias</c> per layer (null where absent).</summary>
    public float[]?[] RouterBias { get; }

    /// <summary>The tensor named <paramref name="name"/>.</summary>
    public T[] this[string name] => _byName.TryGetValue(name, out var v) ? v : throw new KeyNotFoundException($"no trainable tensor '{name}'");

    /// <summary>Every trainable tensor in layout order.</summary>
    public IEnumerable<(string Name, T[] Values)> Tensors()
    {
        yield return ("model.embed_tokens.weight", Embed);
        for (var l = 0; l < Blocks.Length; l++)
            foreach (var t in Blocks[l].Tensors(WeightLayout.LayerPrefix(l))) yield return t;
        yield return ("model.norm.weight", Norm);
        if (Head is not null) yield return ("lm_head.weight", Head);
        foreach (var m in Mtp)
            foreach (var t in m.Tensors()) yield return t;
    }

    /// <summary>Zeroed tensors for <paramref name="config"/> (MTP modules with or without their own embedding/head copies).</summary>
    public static ModelParameters<T> Zeros(ModelConfig config, bool mtpOwnEmbedAndHead = false)
    {
        ArgumentNullException.ThrowIfNull(config);
        return new ModelParameters<T>(config, mtpOwnEmbedAndHead, mtpOwnEmbedAndHead);
    }

    /// <summary>Zeroed tensors shaped like <paramref name="like"/> (for gradients).</summary>
    public static ModelParameters<T> ZerosLike(ModelParameters<T> like) =>
        new(like.Config, like.Mtp.FirstOrDefault()?.Embed is not null, like.Mtp.FirstOrDefault()?.Head is not null);

    /// <summary>Loads every trainable tensor (and the router biases) from a bound checkpoint, decoded to <typeparamref name="T"/>.</summary>
    public static ModelParameters<T> Load(WeightMap weights)
    {
        ArgumentNullException.ThrowIfNull(weights);
        var mtp = weights.Mtp.FirstOrDefault();
        var p = new ModelParameters<T>(weights.Config, mtp?.Embed is not null, mtp?.Head is not null);
        foreach (var (name, values) in p.Tensors())
        {
            var source = Find(weights, name);
            var decoded = source.ToFloatArray();
            if (decoded.Length != values.Length) throw new CheckpointFormatException($"{decoded.Length} values for a trainable tensor of {values.Length}", tensor: name);
            for (var i = 0; i < decoded.Length; i++) values[i] = T.CreateChecked(decoded[i]);
        }
        foreach (var b in weights.Blocks.Select(b => (b.Layer, b.Moe)).Concat(weights.Mtp.Select(m => (m.Layer, m.Block.Moe))))
            if (b.Moe?.GateBias is { } bias) p.RouterBias[b.Layer] = bias.ToFloatArray();
        return p;
    }

    private static WeightTensor Find(WeightMap weights, string name) =>
        weights.Tensor(name) ?? throw new CheckpointFormatException("trainable tensor missing from the checkpoint", tensor: name);
}
