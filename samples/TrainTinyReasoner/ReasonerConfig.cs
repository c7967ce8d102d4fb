using System.Globalization;

namespace TrainTinyReasoner;

/// <summary>
/// DeepSeek-V3 in miniature: MLA with a q LoRA, a dense first layer, then MoE layers with one shared and eight routed
/// experts in four groups (two kept), sigmoid scores with the <c>noaux_tc</c> correction bias, YaRN ×4 over 128
/// positions, and one MTP layer — every V3 mechanism at a size two CPU cores train in minutes.
/// </summary>
internal static class ReasonerConfig
{
    public static string Json(int vocabSize, int hidden, int layers, int heads) => string.Create(CultureInfo.InvariantCulture, $$"""
        {
          "architectures": ["DeepseekV3ForCausalLM"],
          "model_type": "deepseek_v3",
          "vocab_size": {{vocabSize}},
          "hidden_size": {{hidden}},
          "intermediate_size": {{hidden * 3}},
          "moe_intermediate_size": {{hidden / 2}},
          "num_hidden_layers": {{layers}},
          "num_attention_heads": {{heads}},
          "num_key_value_heads": {{heads}},
          "q_lora_rank": {{hidden / 2}},
          "kv_lora_rank": {{hidden / 2}},
          "qk_nope_head_dim": {{hidden / heads}},
          "qk_rope_head_dim": {{hidden / heads / 2}},
          "v_head_dim": {{hidden / heads}},
          "first_k_dense_replace": 1,
          "moe_layer_freq": 1,
          "n_routed_experts": 8,
          "n_shared_experts": 1,
          "num_experts_per_tok": 2,
          "n_group": 4,
          "topk_group": 2,
          "topk_method": "noaux_tc",
          "scoring_func": "sigmoid",
          "norm_topk_prob": true,
          "routed_scaling_factor": 2.5,
          "num_nextn_predict_layers": 1,
          "hidden_act": "silu",
          "max_position_embeddings": 512,
          "rms_norm_eps": 1e-06,
          "rope_theta": 10000.0,
          "rope_scaling": {
            "type": "yarn",
            "rope_type": "yarn",
            "factor": 4.0,
            "original_max_position_embeddings": 128,
            "beta_fast": 32.0,
            "beta_slow": 1.0,
            "mscale": 1.0,
            "mscale_all_dim": 1.0
          },
          "attention_bias": false,
          "tie_word_embeddings": false,
          "bos_token_id": 0,
          "eos_token_id": 1,
          "torch_dtype": "float32"
        }
        """);
}
