using System.Text;
using System.Text.Json;

namespace DeepSeek.Runtime.Checkpoints;

public sealed partial record ModelConfig
{
    /// <summary>
    /// Writes an HF-style <c>config.json</c> (snake_case keys, <c>architectures</c> included) that
    /// <see cref="Parse"/> reads back to an equal record. Dense families get only their own keys.
    /// </summary>
    public string ToJson()
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteStartArray("architectures");
            w.WriteStringValue(Architecture switch
            {
                ModelArchitecture.DeepSeekV2 => "DeepseekV2ForCausalLM",
                ModelArchitecture.DeepSeekV3 => "DeepseekV3ForCausalLM",
                ModelArchitecture.Qwen2 => "Qwen2ForCausalLM",
                _ => "LlamaForCausalLM",
            });
            w.WriteEndArray();
            w.WriteString("model_type", ModelType);
            w.WriteNumber("vocab_size", VocabSize);
            w.WriteNumber("hidden_size", HiddenSize);
            w.WriteNumber("intermediate_size", IntermediateSize);
            w.WriteNumber("num_hidden_layers", NumHiddenLayers);
            w.WriteNumber("num_attention_heads", NumAttentionHeads);
            w.WriteNumber("num_key_value_heads", NumKeyValueHeads);
            if (IsMla)
                WriteMla(w);
            else
                w.WriteNumber("head_dim", HeadDim);
            w.WriteString("hidden_act", HiddenAct);
            w.WriteNumber("max_position_embeddings", MaxPositionEmbeddings);
            w.WriteNumber("rms_norm_eps", RmsNormEps);
            w.WriteNumber("rope_theta", RopeTheta);
            w.WritePropertyName("rope_scaling");
            if (RopeScaling is null)
                w.WriteNullValue();
            else
                RopeScaling.Write(w);
            w.WriteBoolean("attention_bias", AttentionBias);
            w.WriteBoolean("tie_word_embeddings", TieWordEmbeddings);
            if (BosTokenId is { } bos)
                w.WriteNumber("bos_token_id", bos);
            else
                w.WriteNull("bos_token_id");
            w.WritePropertyName("eos_token_id");
            if (EosTokenIds.Count == 0)
            {
                w.WriteNullValue();
            }
            else if (EosTokenIds.Count == 1)
            {
                w.WriteNumberValue(EosTokenIds[0]);
            }
            else
            {
                w.WriteStartArray();
                foreach (int id in EosTokenIds)
                    w.WriteNumberValue(id);
                w.WriteEndArray();
            }
            if (TorchDtype is not null)
                w.WriteString("torch_dtype", TorchDtype);
            if (Quantization is not null)
            {
                w.WritePropertyName("quantization_config");
                Quantization.Write(w);
            }
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(stream.ToArray()) + "\n";
    }

    private void WriteMla(Utf8JsonWriter w)
    {
        if (QLoraRank is { } q)
            w.WriteNumber("q_lora_rank", q);
        else
            w.WriteNull("q_lora_rank");
        w.WriteNumber("kv_lora_rank", KvLoraRank);
        w.WriteNumber("qk_nope_head_dim", QkNopeHeadDim);
        w.WriteNumber("qk_rope_head_dim", QkRopeHeadDim);
        w.WriteNumber("v_head_dim", VHeadDim);
        w.WriteNumber("moe_intermediate_size", MoeIntermediateSize);
        w.WriteNumber("first_k_dense_replace", FirstKDenseReplace);
        w.WriteNumber("moe_layer_freq", MoeLayerFreq);
        w.WriteNumber("n_routed_experts", NRoutedExperts);
        w.WriteNumber("n_shared_experts", NSharedExperts);
        w.WriteNumber("num_experts_per_tok", NumExpertsPerTok);
        w.WriteNumber("n_group", NGroup);
        w.WriteNumber("topk_group", TopKGroup);
        w.WriteString("topk_method", TopKMethod.ToConfigName());
        w.WriteString("scoring_func", ScoringFunc.ToConfigName());
        w.WriteBoolean("norm_topk_prob", NormTopKProb);
        w.WriteNumber("routed_scaling_factor", RoutedScalingFactor);
        w.WriteNumber("num_nextn_predict_layers", NumNextNPredictLayers);
    }
}
