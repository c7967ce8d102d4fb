namespace DeepSeek.Cli.Commands;

/// <summary>
/// The configs of issue 5's benchmark models, so <c>deepseek synth --preset NAME</c> writes them without a config file:
/// slices of real models — every tensor at its real shape, fewer layers — big enough that a decode step streams its
/// weights from memory (the bandwidth roofline) and a prefill is matrix-matrix work (the FMA roofline).
/// </summary>
internal static class SynthPresets
{
    /// <summary>The preset names, as <c>--preset</c> accepts them.</summary>
    public static IReadOnlyList<string> Names { get; } = ["v2-lite-slice", "qwen2-1.5b-slice"];

    /// <summary>The config.json text of <paramref name="name"/>.</summary>
    public static string Json(string name) => name switch
    {
        // DeepSeek-V2-Lite (16B) cut to 4 layers: layer 0 dense (intermediate 10944), layers 1–3 DeepSeekMoE with 64 routed
        // experts top-6 + 2 shared (moe_intermediate 1408), MLA without q LoRA, kv_lora 512, nope/rope/v 128/64/128.
        "v2-lite-slice" => """
            {"architectures":["DeepseekV2ForCausalLM"],"model_type":"deepseek_v2","vocab_size":102400,"hidden_size":2048,
             "intermediate_size":10944,"moe_intermediate_size":1408,"num_hidden_layers":4,"num_attention_heads":16,
             "num_key_value_heads":16,"q_lora_rank":null,"kv_lora_rank":512,"qk_nope_head_dim":128,"qk_rope_head_dim":64,
             "v_head_dim":128,"first_k_dense_replace":1,"moe_layer_freq":1,"n_routed_experts":64,"n_shared_experts":2,
             "num_experts_per_tok":6,"n_group":1,"topk_group":1,"topk_method":"greedy","scoring_func":"softmax",
             "norm_topk_prob":false,"routed_scaling_factor":1.0,"num_nextn_predict_layers":0,"hidden_act":"silu",
             "max_position_embeddings":163840,"rms_norm_eps":1e-06,"rope_theta":10000.0,
             "rope_scaling":{"type":"yarn","rope_type":"yarn","factor":40.0,"original_max_position_embeddings":4096,
               "beta_fast":32.0,"beta_slow":1.0,"mscale":0.707,"mscale_all_dim":0.707},
             "attention_bias":false,"tie_word_embeddings":false,"bos_token_id":100000,"eos_token_id":100001,"torch_dtype":"bfloat16"}
            """,
        // Qwen2-1.5B (the base of DeepSeek-R1-Distill-Qwen-1.5B) cut to 4 of its 28 layers: GQA 12 heads over 2 KV
        // heads with q/k/v bias, intermediate 8960, vocab 151936, tied embeddings.
        "qwen2-1.5b-slice" => """
            {"architectures":["Qwen2ForCausalLM"],"model_type":"qwen2","vocab_size":151936,"hidden_size":1536,
             "intermediate_size":8960,"num_hidden_layers":4,"num_attention_heads":12,"num_key_value_heads":2,
             "hidden_act":"silu","max_position_embeddings":131072,"rms_norm_eps":1e-06,"rope_theta":10000.0,
             "tie_word_embeddings":true,"use_sliding_window":false,"bos_token_id":151643,"eos_token_id":151643,
             "torch_dtype":"bfloat16"}
            """,
        _ => throw new ArgumentException($"--preset: expected one of {string.Join(", ", Names)}, not '{name}'"),
    };
}
