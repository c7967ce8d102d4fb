using System.Globalization;

namespace DeepSeek.Runtime.Checkpoints;

public sealed partial record ModelConfig
{
    /// <summary>
    /// Checks ranges and cross-key contradictions (called by <see cref="Parse"/>; call it after building a
    /// variant with <c>with</c>). Throws <see cref="ModelConfigException"/> whose key is the JSON key at fault.
    /// </summary>
    public void Validate() => Validate(null);

    internal void Validate(string? file)
    {
        if (!Enum.IsDefined(Architecture))
            throw Fail("model_type", $"unknown architecture {(int)Architecture}; supported: {string.Join(", ", ModelConfigNames.SupportedModelTypes)}", file);

        Positive("vocab_size", VocabSize, file);
        Positive("hidden_size", HiddenSize, file);
        Positive("intermediate_size", IntermediateSize, file);
        Positive("num_hidden_layers", NumHiddenLayers, file);
        Positive("num_attention_heads", NumAttentionHeads, file);
        Positive("num_key_value_heads", NumKeyValueHeads, file);
        Positive("head_dim", HeadDim, file);
        Positive("max_position_embeddings", MaxPositionEmbeddings, file);
        NonNegative("num_nextn_predict_layers", NumNextNPredictLayers, file);
        PositiveFinite("rope_theta", RopeTheta, file);
        PositiveFinite("rms_norm_eps", RmsNormEps, file);
        if (string.IsNullOrEmpty(HiddenAct))
            throw Fail("hidden_act", "must be a non-empty activation name", file);
        if (EosTokenIds is null)
            throw Fail("eos_token_id", "must not be null (use an empty list)", file);

        if (NumAttentionHeads % NumKeyValueHeads != 0)
            throw Fail("num_key_value_heads", F($"num_attention_heads {NumAttentionHeads} is not a multiple of num_key_value_heads {NumKeyValueHeads}"), file);

        if (IsMla)
            ValidateMla(file);
        else
            ValidateDense(file);

        if (BosTokenId is { } bos && (bos < 0 || bos >= VocabSize))
            throw Fail("bos_token_id", F($"{bos} is outside the vocabulary [0, {VocabSize})"), file);
        foreach (int eos in EosTokenIds)
        {
            if (eos < 0 || eos >= VocabSize)
                throw Fail("eos_token_id", F($"{eos} is outside the vocabulary [0, {VocabSize})"), file);
        }

        RopeScaling?.Validate(file);
        Quantization?.Validate(file);
    }

    private void ValidateMla(string? file)
    {
        if (QLoraRank is { } q && q <= 0)
            throw Fail("q_lora_rank", F($"must be positive or null (null = a single q_proj), got {q}"), file);
        Positive("kv_lora_rank", KvLoraRank, file);
        Positive("qk_nope_head_dim", QkNopeHeadDim, file);
        Positive("qk_rope_head_dim", QkRopeHeadDim, file);
        if (QkRopeHeadDim % 2 != 0)
            throw Fail("qk_rope_head_dim", F($"must be even (RoPE rotates pairs), got {QkRopeHeadDim}"), file);
        Positive("v_head_dim", VHeadDim, file);
        if (HeadDim != QkNopeHeadDim + QkRopeHeadDim)
            throw Fail("head_dim", F($"{HeadDim} must equal qk_nope_head_dim + qk_rope_head_dim = {QkNopeHeadDim + QkRopeHeadDim} for MLA models"), file);

        NonNegative("n_routed_experts", NRoutedExperts, file);
        NonNegative("n_shared_experts", NSharedExperts, file);
        NonNegative("moe_intermediate_size", MoeIntermediateSize, file);
        NonNegative("num_experts_per_tok", NumExpertsPerTok, file);
        NonNegative("first_k_dense_replace", FirstKDenseReplace, file);
        Positive("moe_layer_freq", MoeLayerFreq, file);
        Positive("n_group", NGroup, file);
        Positive("topk_group", TopKGroup, file);
        if (!Enum.IsDefined(TopKMethod))
            throw Fail("topk_method", F($"unknown top-k method {(int)TopKMethod}"), file);
        if (!Enum.IsDefined(ScoringFunc))
            throw Fail("scoring_func", F($"unknown scoring function {(int)ScoringFunc}"), file);
        PositiveFinite("routed_scaling_factor", RoutedScalingFactor, file);
        if (FirstKDenseReplace > NumHiddenLayers)
            throw Fail("first_k_dense_replace", F($"{FirstKDenseReplace} exceeds num_hidden_layers {NumHiddenLayers}"), file);

        if (!IsMoe)
        {
            if (NSharedExperts > 0)
                throw Fail("n_shared_experts", F($"{NSharedExperts} shared experts need routed experts (n_routed_experts is 0)"), file);
            return;
        }

        Positive("moe_intermediate_size", MoeIntermediateSize, file);
        Positive("num_experts_per_tok", NumExpertsPerTok, file);
        if (TopKGroup > NGroup)
            throw Fail("topk_group", F($"{TopKGroup} exceeds n_group {NGroup}"), file);
        if (NRoutedExperts % NGroup != 0)
            throw Fail("n_group", F($"n_routed_experts {NRoutedExperts} is not divisible into {NGroup} groups"), file);
        if (NumExpertsPerTok > NRoutedExperts)
            throw Fail("num_experts_per_tok", F($"{NumExpertsPerTok} exceeds n_routed_experts {NRoutedExperts}"), file);
        int perGroup = NRoutedExperts / NGroup;
        if (NumExpertsPerTok > TopKGroup * perGroup)
            throw Fail("num_experts_per_tok",
                F($"{NumExpertsPerTok} experts cannot be chosen from topk_group {TopKGroup} kept groups of {perGroup} experts"), file);
        // noaux_tc scores a group by the sum of its top-2 biased scores.
        if (TopKMethod == TopKMethod.NoAuxTc && perGroup < 2)
            throw Fail("n_group", F($"noaux_tc scores each group by its top-2 experts, but {NGroup} groups of {NRoutedExperts} experts hold {perGroup} each"), file);
    }

    private void ValidateDense(string? file)
    {
        string family = ModelType;
        if (HeadDim % 2 != 0)
            throw Fail("head_dim", F($"must be even (RoPE rotates pairs), got {HeadDim}"), file);
        // MLA/MoE members have no JSON key for dense families; keeping them neutral keeps ToJson/Parse exact.
        MustBe("q_lora_rank", QLoraRank is null, family, file);
        MustBe("kv_lora_rank", KvLoraRank == 0, family, file);
        MustBe("qk_nope_head_dim", QkNopeHeadDim == 0, family, file);
        MustBe("qk_rope_head_dim", QkRopeHeadDim == 0, family, file);
        MustBe("v_head_dim", VHeadDim == 0, family, file);
        MustBe("n_routed_experts", NRoutedExperts == 0, family, file);
        MustBe("n_shared_experts", NSharedExperts == 0, family, file);
        MustBe("moe_intermediate_size", MoeIntermediateSize == 0, family, file);
        MustBe("num_experts_per_tok", NumExpertsPerTok == 0, family, file);
        MustBe("first_k_dense_replace", FirstKDenseReplace == 0, family, file);
        MustBe("moe_layer_freq", MoeLayerFreq == 1, family, file);
        MustBe("n_group", NGroup == 1, family, file);
        MustBe("topk_group", TopKGroup == 1, family, file);
        MustBe("topk_method", TopKMethod == TopKMethod.Greedy, family, file);
        MustBe("scoring_func", ScoringFunc == ScoringFunction.Softmax, family, file);
        MustBe("norm_topk_prob", !NormTopKProb, family, file);
        MustBe("routed_scaling_factor", RoutedScalingFactor == 1.0, family, file);
        MustBe("num_nextn_predict_layers", NumNextNPredictLayers == 0, family, file);
    }

    private static void MustBe(string key, bool neutral, string family, string? file)
    {
        if (!neutral)
            throw Fail(key, $"is an MLA/MoE setting and must keep its neutral value for dense model_type '{family}'", file);
    }

    private static void Positive(string key, int value, string? file)
    {
        if (value <= 0)
            throw Fail(key, F($"must be positive, got {value}"), file);
    }

    private static void NonNegative(string key, int value, string? file)
    {
        if (value < 0)
            throw Fail(key, F($"must be >= 0, got {value}"), file);
    }

    private static void PositiveFinite(string key, double value, string? file)
    {
        if (!double.IsFinite(value) || value <= 0)
            throw Fail(key, F($"must be a positive finite number, got {value}"), file);
    }

    private static ModelConfigException Fail(string key, string message, string? file) => new(key, message, file);

    private static string F(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
