using DeepSeek.Runtime.Tensors;

namespace DeepSeek.Runtime.Checkpoints;

/// <summary>What a weight is for: decides which dtypes it may be stored in and how it counts.</summary>
public enum WeightKind
{
    /// <summary>Token embedding table [vocab, hidden].</summary>
    Embedding,
    /// <summary>Output projection [vocab, hidden].</summary>
    Head,
    /// <summary>RMSNorm scale [dim].</summary>
    Norm,
    /// <summary>A Linear weight [out, in]; the only kind that may be block-FP8.</summary>
    Linear,
    /// <summary>A Linear bias [out] (Qwen2 q/k/v).</summary>
    Bias,
    /// <summary>MoE router weight [n_routed, hidden]; stays BF16/F32 even in FP8 checkpoints.</summary>
    Router,
    /// <summary>The router's <c>e_score_correction_bias</c> [n_routed] (aux-loss-free balancing, V3).</summary>
    RouterBias,
}

/// <summary>One tensor a config implies, with its exact shape.</summary>
/// <param name="Name">Hugging Face tensor name.</param>
/// <param name="Shape">Shape derived from the config.</param>
/// <param name="Kind">Role of the weight.</param>
/// <param name="Layer">Decoder layer index (MTP layers count from <c>num_hidden_layers</c>), or null for global tensors.</param>
/// <param name="Expert">Routed expert index, for routed-expert weights.</param>
/// <param name="Optional">True when checkpoints may omit it (the MTP layer's copies of the embedding and head).</param>
public sealed record ExpectedTensor(string Name, Shape Shape, WeightKind Kind, int? Layer = null, int? Expert = null, bool Optional = false)
{
    /// <summary>True for the layers of the multi-token-prediction module.</summary>
    public bool IsMtp { get; init; }
}

/// <summary>
/// The single table of Hugging Face tensor names and shapes for a config (DeepSeek-V2/V3 with MLA and MoE, and the
/// dense Qwen2/Llama distills). Linear weights are [out, in]. Validation, binding, parameter counting and
/// checkpoint generation all read this one table.
/// </summary>
public static class WeightLayout
{
    /// <summary>Prefix of decoder layer <paramref name="layer"/>: <c>model.layers.{layer}.</c></summary>
    public static string LayerPrefix(int layer) => $"model.layers.{layer}.";

    /// <summary>Every tensor <paramref name="config"/> implies, main model first, then the MTP layers.</summary>
    public static IReadOnlyList<ExpectedTensor> For(ModelConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var list = new List<ExpectedTensor>();
        int h = config.HiddenSize, v = config.VocabSize;
        list.Add(new("model.embed_tokens.weight", Shape.Of(v, h), WeightKind.Embedding));
        for (var i = 0; i < config.NumHiddenLayers; i++) AddBlock(list, config, i, mtp: false);
        list.Add(new("model.norm.weight", Shape.Of(h), WeightKind.Norm));
        if (!config.TieWordEmbeddings) list.Add(new("lm_head.weight", Shape.Of(v, h), WeightKind.Head));

        for (var m = 0; m < config.NumNextNPredictLayers; m++)
        {
            var layer = config.NumHiddenLayers + m;
            var p = LayerPrefix(layer);
            // MTP module: h' = eh_proj([enorm(emb(t_{i+1})); hnorm(h_i)]), a full block, then shared_head (MODEL.md).
            list.Add(new(p + "embed_tokens.weight", Shape.Of(v, h), WeightKind.Embedding, layer, Optional: true) { IsMtp = true });
            list.Add(new(p + "enorm.weight", Shape.Of(h), WeightKind.Norm, layer) { IsMtp = true });
            list.Add(new(p + "hnorm.weight", Shape.Of(h), WeightKind.Norm, layer) { IsMtp = true });
            list.Add(new(p + "eh_proj.weight", Shape.Of(h, 2 * h), WeightKind.Linear, layer) { IsMtp = true });
            AddBlock(list, config, layer, mtp: true);
            list.Add(new(p + "shared_head.norm.weight", Shape.Of(h), WeightKind.Norm, layer) { IsMtp = true });
            list.Add(new(p + "shared_head.head.weight", Shape.Of(v, h), WeightKind.Head, layer, Optional: true) { IsMtp = true });
        }
        return list;
    }

    private static void AddBlock(List<ExpectedTensor> list, ModelConfig c, int layer, bool mtp)
    {
        var p = LayerPrefix(layer);
        void Add(string name, Shape shape, WeightKind kind, int? expert = null) =>
            list.Add(new(p + name, shape, kind, layer, expert) { IsMtp = mtp });

        int h = c.HiddenSize;
        Add("input_layernorm.weight", Shape.Of(h), WeightKind.Norm);
        Add("post_attention_layernorm.weight", Shape.Of(h), WeightKind.Norm);

        if (c.IsMla)
        {
            int heads = c.NumAttentionHeads, qk = c.QkHeadDim;
            if (c.QLoraRank is { } qr)
            {
                Add("self_attn.q_a_proj.weight", Shape.Of(qr, h), WeightKind.Linear);
                Add("self_attn.q_a_layernorm.weight", Shape.Of(qr), WeightKind.Norm);
                Add("self_attn.q_b_proj.weight", Shape.Of(heads * qk, qr), WeightKind.Linear);
            }
            else
            {
                Add("self_attn.q_proj.weight", Shape.Of(heads * qk, h), WeightKind.Linear);
            }
            Add("self_attn.kv_a_proj_with_mqa.weight", Shape.Of(c.KvLoraRank + c.QkRopeHeadDim, h), WeightKind.Linear);
            Add("self_attn.kv_a_layernorm.weight", Shape.Of(c.KvLoraRank), WeightKind.Norm);
            Add("self_attn.kv_b_proj.weight", Shape.Of(heads * (c.QkNopeHeadDim + c.VHeadDim), c.KvLoraRank), WeightKind.Linear);
            Add("self_attn.o_proj.weight", Shape.Of(h, heads * c.VHeadDim), WeightKind.Linear);
        }
        else
        {
            int q = c.NumAttentionHeads * c.HeadDim, kv = c.NumKeyValueHeads * c.HeadDim;
            // Qwen2 always biases q/k/v; Llama biases q/k/v/o only with attention_bias.
            var qkvBias = c.AttentionBias || c.Architecture == ModelArchitecture.Qwen2;
            var oBias = c.AttentionBias && c.Architecture == ModelArchitecture.Llama;
            foreach (var (name, rows) in new[] { ("q_proj", q), ("k_proj", kv), ("v_proj", kv) })
            {
                Add($"self_attn.{name}.weight", Shape.Of(rows, h), WeightKind.Linear);
                if (qkvBias) Add($"self_attn.{name}.bias", Shape.Of(rows), WeightKind.Bias);
            }
            Add("self_attn.o_proj.weight", Shape.Of(h, q), WeightKind.Linear);
            if (oBias) Add("self_attn.o_proj.bias", Shape.Of(h), WeightKind.Bias);
        }

        if (!c.IsMoeLayer(layer))
        {
            AddMlp(Add, "mlp.", c.IntermediateSize, h);
            return;
        }
        Add("mlp.gate.weight", Shape.Of(c.NRoutedExperts, h), WeightKind.Router);
        if (c.TopKMethod == TopKMethod.NoAuxTc)
            Add("mlp.gate.e_score_correction_bias", Shape.Of(c.NRoutedExperts), WeightKind.RouterBias);
        for (var e = 0; e < c.NRoutedExperts; e++)
        {
            var expert = e;
            AddMlp((n, s, k, _) => Add(n, s, k, expert), $"mlp.experts.{e}.", c.MoeIntermediateSize, h);
        }
        if (c.NSharedExperts > 0)
            AddMlp(Add, "mlp.shared_experts.", c.NSharedExperts * c.MoeIntermediateSize, h);
    }

    private static void AddMlp(Action<string, Shape, WeightKind, int?> add, string prefix, int inter, int hidden)
    {
        add(prefix + "gate_proj.weight", Shape.Of(inter, hidden), WeightKind.Linear, null);
        add(prefix + "up_proj.weight", Shape.Of(inter, hidden), WeightKind.Linear, null);
        add(prefix + "down_proj.weight", Shape.Of(hidden, inter), WeightKind.Linear, null);
    }

    /// <summary>Dtypes a weight of <paramref name="kind"/> may be stored in.</summary>
    public static bool Accepts(WeightKind kind, DType dtype) => kind switch
    {
        WeightKind.Linear => dtype is DType.F32 or DType.F16 or DType.BF16 or DType.F8_E4M3,
        _ => dtype is DType.F32 or DType.F16 or DType.BF16,
    };
}
