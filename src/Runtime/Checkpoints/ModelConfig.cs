namespace DeepSeek.Runtime.Checkpoints;

/// <summary>
/// A model's Hugging Face <c>config.json</c>, parsed, defaulted and validated. Immutable: derive variants with
/// <c>with</c> and call <see cref="Validate()"/> on the result. Keys are documented with the JSON name they
/// come from; defaults follow HF's config classes unless a note says otherwise. MLA/MoE members are 0 (or
/// their neutral value) for the dense <see cref="ModelArchitecture.Qwen2"/> and <see cref="ModelArchitecture.Llama"/>.
/// </summary>
public sealed partial record ModelConfig
{
    private readonly TokenIdList _eosTokenIds = TokenIdList.Empty;

    /// <summary><c>model_type</c>, derived from <see cref="Architecture"/> (<c>deepseek_v3</c>, …).</summary>
    public string ModelType => Architecture.ToModelType();

    /// <summary>The family, from <c>model_type</c> (required).</summary>
    public ModelArchitecture Architecture { get; init; }

    /// <summary><c>vocab_size</c> (required): rows of <c>embed_tokens</c> and <c>lm_head</c>.</summary>
    public int VocabSize { get; init; }

    /// <summary><c>hidden_size</c> (required): the residual stream width.</summary>
    public int HiddenSize { get; init; }

    /// <summary><c>intermediate_size</c> (required): width of the dense SwiGLU MLP.</summary>
    public int IntermediateSize { get; init; }

    /// <summary><c>moe_intermediate_size</c>: width of each routed and shared expert; required when <see cref="IsMoe"/>, else 0 when absent.</summary>
    public int MoeIntermediateSize { get; init; }

    /// <summary><c>num_hidden_layers</c> (required): decoder blocks, not counting MTP layers.</summary>
    public int NumHiddenLayers { get; init; }

    /// <summary><c>first_k_dense_replace</c>: layers below this index use the dense MLP. Default 0.</summary>
    public int FirstKDenseReplace { get; init; }

    /// <summary><c>moe_layer_freq</c>: every n-th layer (from <see cref="FirstKDenseReplace"/>) is MoE. Default 1.</summary>
    public int MoeLayerFreq { get; init; } = 1;

    /// <summary><c>num_attention_heads</c> (required).</summary>
    public int NumAttentionHeads { get; init; }

    /// <summary><c>num_key_value_heads</c>: GQA key/value heads; defaults to <see cref="NumAttentionHeads"/> (MLA ignores it).</summary>
    public int NumKeyValueHeads { get; init; }

    /// <summary>
    /// Per-head width. Dense: <c>head_dim</c>, or <c>hidden_size / num_attention_heads</c> when absent.
    /// MLA: always <see cref="QkHeadDim"/> (a <c>head_dim</c> key is ignored; transformers writes the rope width there).
    /// </summary>
    public int HeadDim { get; init; }

    /// <summary><c>q_lora_rank</c> (MLA): rank of the query down-projection; null (default) means a single <c>q_proj</c>.</summary>
    public int? QLoraRank { get; init; }

    /// <summary><c>kv_lora_rank</c> (MLA, required): width of the cached latent <c>c_kv</c>.</summary>
    public int KvLoraRank { get; init; }

    /// <summary><c>qk_nope_head_dim</c> (MLA, required): per-head query/key width without rotary.</summary>
    public int QkNopeHeadDim { get; init; }

    /// <summary><c>qk_rope_head_dim</c> (MLA, required): per-head rotary width, shared <c>k_pe</c> width; even.</summary>
    public int QkRopeHeadDim { get; init; }

    /// <summary><c>v_head_dim</c> (MLA, required): per-head value width.</summary>
    public int VHeadDim { get; init; }

    /// <summary><c>n_routed_experts</c>: routed experts per MoE layer; null/absent means 0 (dense MLP everywhere).</summary>
    public int NRoutedExperts { get; init; }

    /// <summary><c>n_shared_experts</c>: experts always applied (one MLP of width n × moe_intermediate_size). Null/absent means 0.</summary>
    public int NSharedExperts { get; init; }

    /// <summary><c>num_experts_per_tok</c>: top-k routed experts per token; required when <see cref="IsMoe"/>.</summary>
    public int NumExpertsPerTok { get; init; }

    /// <summary><c>n_group</c>: expert groups for group-limited routing. Null/absent means 1 (no grouping; HF V3's class default 8 only fits 256 experts).</summary>
    public int NGroup { get; init; } = 1;

    /// <summary><c>topk_group</c>: groups kept per token. Null/absent means 1.</summary>
    public int TopKGroup { get; init; } = 1;

    /// <summary><c>topk_method</c>: default <c>greedy</c> for V2 (HF's misspelt <c>gready</c> is accepted), <c>noaux_tc</c> for V3.</summary>
    public TopKMethod TopKMethod { get; init; }

    /// <summary><c>scoring_func</c>: default <c>softmax</c> for V2, <c>sigmoid</c> for V3 (HF's V3 modeling supports only sigmoid).</summary>
    public ScoringFunction ScoringFunc { get; init; }

    /// <summary><c>norm_topk_prob</c>: renormalise chosen weights to sum 1. Default false for V2, true for V3 (HF class defaults).</summary>
    public bool NormTopKProb { get; init; }

    /// <summary><c>routed_scaling_factor</c>: multiplies routed weights. Default 1.0 (HF V3's class default 2.5 is specific to the 671B model).</summary>
    public double RoutedScalingFactor { get; init; } = 1.0;

    /// <summary><c>rope_theta</c>: RoPE base θ. Default 10000.</summary>
    public double RopeTheta { get; init; } = 10000.0;

    /// <summary><c>rope_scaling</c>: null when absent, <c>null</c> or of type <c>default</c>.</summary>
    public RopeScaling? RopeScaling { get; init; }

    /// <summary><c>rms_norm_eps</c>. Default 1e-6 (all four HF classes).</summary>
    public double RmsNormEps { get; init; } = 1e-6;

    /// <summary><c>max_position_embeddings</c>. Default per HF class: V2 2048, V3 4096, qwen2 32768, llama 2048.</summary>
    public int MaxPositionEmbeddings { get; init; }

    /// <summary><c>num_nextn_predict_layers</c>: MTP modules after the main stack. Default 0 (absent key ⇒ no MTP weights expected).</summary>
    public int NumNextNPredictLayers { get; init; }

    /// <summary><c>tie_word_embeddings</c>: <c>lm_head</c> shares <c>embed_tokens</c>. Default false.</summary>
    public bool TieWordEmbeddings { get; init; }

    /// <summary><c>attention_bias</c>: q/k/v projections carry biases. Default true for qwen2 (Qwen2 always has them), else false.</summary>
    public bool AttentionBias { get; init; }

    /// <summary><c>bos_token_id</c>; null when absent.</summary>
    public int? BosTokenId { get; init; }

    /// <summary><c>eos_token_id</c> (an int or a list in JSON); empty when absent. Compared by content.</summary>
    public IReadOnlyList<int> EosTokenIds
    {
        get => _eosTokenIds;
        init => _eosTokenIds = TokenIdList.From(value);
    }

    /// <summary><c>torch_dtype</c> (or newer <c>dtype</c>): the checkpoint's nominal dtype, e.g. <c>bfloat16</c>; null when absent.</summary>
    public string? TorchDtype { get; init; }

    /// <summary><c>hidden_act</c>: MLP activation. Default <c>silu</c>.</summary>
    public string HiddenAct { get; init; } = "silu";

    /// <summary><c>quantization_config</c>: block-scaled FP8 weights; null for unquantized checkpoints.</summary>
    public QuantizationConfig? Quantization { get; init; }

    /// <summary>True for multi-head latent attention models (<see cref="ModelArchitecture.DeepSeekV2"/>, <see cref="ModelArchitecture.DeepSeekV3"/>).</summary>
    public bool IsMla => Architecture is ModelArchitecture.DeepSeekV2 or ModelArchitecture.DeepSeekV3;

    /// <summary>True when some layers route to experts (<see cref="NRoutedExperts"/> &gt; 0).</summary>
    public bool IsMoe => NRoutedExperts > 0;

    /// <summary>Query/key width per head: MLA <c>qk_nope_head_dim + qk_rope_head_dim</c> (192 for V3); dense <see cref="HeadDim"/>.</summary>
    public int QkHeadDim => IsMla ? QkNopeHeadDim + QkRopeHeadDim : HeadDim;

    /// <summary>Total decoder blocks with weights: <see cref="NumHiddenLayers"/> + <see cref="NumNextNPredictLayers"/> (MTP layers follow the main stack).</summary>
    public int TotalLayers => NumHiddenLayers + NumNextNPredictLayers;

    /// <summary>
    /// Whether decoder layer <paramref name="layer"/> uses the MoE MLP (HF modeling_deepseek rule:
    /// experts exist, <c>layer ≥ first_k_dense_replace</c> and <c>layer % moe_layer_freq == 0</c>).
    /// MTP layers (index ≥ <see cref="NumHiddenLayers"/>) follow the same rule.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="layer"/> is outside [0, <see cref="TotalLayers"/>).</exception>
    public bool IsMoeLayer(int layer)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(layer);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(layer, TotalLayers);
        return NRoutedExperts > 0 && layer >= FirstKDenseReplace && layer % MoeLayerFreq == 0;
    }

    /// <summary>
    /// KV-cache values per token per layer: MLA caches the normalised latent and the rotated shared key,
    /// <c>kv_lora_rank + qk_rope_head_dim</c> (576 for V3); dense caches K and V, <c>2 · num_key_value_heads · head_dim</c>.
    /// </summary>
    public int KvCacheValuesPerTokenPerLayer => IsMla ? KvLoraRank + QkRopeHeadDim : 2 * NumKeyValueHeads * HeadDim;

    /// <summary>
    /// Attention logit scale. MLA: <c>QkHeadDim^-½</c>, times m(mscale_all_dim)² when yarn scaling sets
    /// <c>mscale_all_dim</c> (V3: 192^-½ · 1.3689² ≈ 0.1352). Dense: <c>HeadDim^-½</c>.
    /// </summary>
    public double SoftmaxScale
    {
        get
        {
            if (!IsMla)
                return 1.0 / Math.Sqrt(HeadDim);
            double scale = 1.0 / Math.Sqrt(QkHeadDim);
            if (RopeScaling is { Type: RopeScalingType.Yarn, MScaleAllDim: not 0.0 } yarn)
            {
                double m = RopeScaling.YarnMScale(yarn.Factor, yarn.MScaleAllDim);
                scale *= m * m;
            }
            return scale;
        }
    }
}
