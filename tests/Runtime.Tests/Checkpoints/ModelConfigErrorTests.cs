using System.Text.Json.Nodes;
using DeepSeek.Runtime.Checkpoints;

namespace DeepSeek.Runtime.Tests.Checkpoints;

public class ModelConfigErrorTests
{
    private static ModelConfigException Rejects(string json, string expectedKey)
    {
        var ex = Assert.Throws<ModelConfigException>(() => ModelConfig.Parse(json, "config.json"));
        Assert.Equal(expectedKey, ex.Key);
        Assert.Equal("config.json", ex.File);
        Assert.Contains(expectedKey, ex.Message, StringComparison.Ordinal);
        return ex;
    }

    private static ModelConfigException RejectsSet(string fixture, string path, JsonNode? value, string? expectedKey = null) =>
        Rejects(ConfigJson.Set(fixture, path, value), expectedKey ?? path);

    // ---- JSON itself ----

    [Theory]
    [InlineData("{ \"model_type\": ")]
    [InlineData("{ \"model_type\": \"deepseek_v3\", }")]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("{ \"vocab_size\": NaN }")]
    public void Invalid_json_is_reported_with_a_position(string json)
    {
        var ex = Rejects(json, "(json)");
        Assert.Contains("line", ex.Message, StringComparison.Ordinal);
        Assert.Contains("byte", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Invalid_json_position_points_at_the_error_line()
    {
        var ex = Rejects("{\n  \"model_type\": \"llama\",\n  \"vocab_size\": 12x\n}", "(json)");
        Assert.Contains("line 3", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("[]")]
    [InlineData("[{\"model_type\": \"llama\"}]")]
    [InlineData("null")]
    [InlineData("42")]
    [InlineData("\"config\"")]
    public void Non_object_root_is_rejected(string json)
    {
        var ex = Rejects(json, "(json)");
        Assert.Contains("object", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Unpaired_surrogate_is_a_config_error()
    {
        Rejects("{ \"model_type\": \"\uD800\" }", "(json)");
    }

    // ---- required keys ----

    [Theory]
    [InlineData("model_type")]
    [InlineData("vocab_size")]
    [InlineData("hidden_size")]
    [InlineData("num_hidden_layers")]
    [InlineData("num_attention_heads")]
    [InlineData("intermediate_size")]
    [InlineData("kv_lora_rank")]
    [InlineData("qk_nope_head_dim")]
    [InlineData("qk_rope_head_dim")]
    [InlineData("v_head_dim")]
    [InlineData("moe_intermediate_size")]
    [InlineData("num_experts_per_tok")]
    public void Missing_required_key_is_named(string key)
    {
        var ex = Rejects(ConfigJson.Remove(ConfigFixtures.DeepSeekV3, key), key);
        Assert.Contains("missing", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Null_required_key_is_named()
    {
        var ex = RejectsSet(ConfigFixtures.DeepSeekV3, "kv_lora_rank", null);
        Assert.Contains("null", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("intermediate_size")]
    [InlineData("vocab_size")]
    public void Missing_required_key_in_dense_config_is_named(string key) =>
        Rejects(ConfigJson.Remove(ConfigFixtures.R1DistillQwen, key), key);

    [Fact]
    public void Moe_keys_are_optional_without_routed_experts()
    {
        string json = ConfigJson.Edit(ConfigFixtures.TinyV3, o =>
        {
            o["n_routed_experts"] = null;
            o["n_shared_experts"] = 0;
            o.Remove("moe_intermediate_size");
            o.Remove("num_experts_per_tok");
        });
        var c = ModelConfig.Parse(json);
        Assert.False(c.IsMoe);
        Assert.False(c.IsMoeLayer(2));
    }

    [Fact]
    public void Missing_factor_in_rope_scaling_is_named() =>
        Rejects(ConfigJson.Remove(ConfigFixtures.DeepSeekV3, "rope_scaling.factor"), "rope_scaling.factor");

    [Fact]
    public void Missing_rope_type_is_named() =>
        Rejects(ConfigJson.Remove(ConfigFixtures.DeepSeekV3, "rope_scaling.type"), "rope_scaling.type");

    [Theory]
    [InlineData("rope_scaling.low_freq_factor")]
    [InlineData("rope_scaling.high_freq_factor")]
    [InlineData("rope_scaling.original_max_position_embeddings")]
    public void Llama3_rope_keys_are_required(string key) =>
        Rejects(ConfigJson.Remove(ConfigFixtures.R1DistillLlama, key), key);

    [Fact]
    public void Missing_quant_method_is_named() =>
        Rejects(ConfigJson.Remove(ConfigFixtures.DeepSeekV3, "quantization_config.quant_method"), "quantization_config.quant_method");

    // ---- wrong JSON types and ranges ----

    [Fact]
    public void String_where_a_number_is_expected() => RejectsSet(ConfigFixtures.DeepSeekV3, "vocab_size", "129280");

    [Fact]
    public void Fraction_for_an_int() => RejectsSet(ConfigFixtures.DeepSeekV3, "hidden_size", 7168.5);

    [Fact]
    public void Int_out_of_range() => RejectsSet(ConfigFixtures.DeepSeekV3, "vocab_size", 1e12);

    [Fact]
    public void Huge_double_is_not_finite() => Rejects(
        ConfigFixtures.DeepSeekV3.Replace("\"rope_theta\": 10000", "\"rope_theta\": 1e999", StringComparison.Ordinal), "rope_theta");

    [Fact]
    public void Negative_layer_count() => RejectsSet(ConfigFixtures.DeepSeekV3, "num_hidden_layers", -1);

    [Fact]
    public void Negative_shared_experts() => RejectsSet(ConfigFixtures.DeepSeekV3, "n_shared_experts", -1);

    [Fact]
    public void Negative_first_k_dense_replace() => RejectsSet(ConfigFixtures.DeepSeekV3, "first_k_dense_replace", -2);

    [Fact]
    public void String_for_a_bool() => RejectsSet(ConfigFixtures.DeepSeekV3, "norm_topk_prob", "true");

    [Fact]
    public void Number_for_a_string() => RejectsSet(ConfigFixtures.DeepSeekV3, "topk_method", 3);

    [Fact]
    public void String_for_a_rope_factor() => RejectsSet(ConfigFixtures.DeepSeekV3, "rope_scaling.factor", "40");

    [Fact]
    public void Rope_scaling_not_an_object() => RejectsSet(ConfigFixtures.DeepSeekV3, "rope_scaling", "yarn");

    [Fact]
    public void Quantization_config_not_an_object() => RejectsSet(ConfigFixtures.DeepSeekV3, "quantization_config", new JsonArray());

    [Fact]
    public void Eos_of_the_wrong_type() => RejectsSet(ConfigFixtures.DeepSeekV3, "eos_token_id", "</s>");

    [Fact]
    public void Eos_list_with_a_string() => RejectsSet(ConfigFixtures.R1DistillLlama, "eos_token_id", new JsonArray(128001, "x"));

    [Fact]
    public void Negative_rms_norm_eps() => RejectsSet(ConfigFixtures.DeepSeekV3, "rms_norm_eps", -1e-6);

    [Fact]
    public void Zero_routed_scaling_factor() => RejectsSet(ConfigFixtures.DeepSeekV3, "routed_scaling_factor", 0);

    [Fact]
    public void Odd_rope_head_dim() => RejectsSet(ConfigFixtures.TinyV3, "qk_rope_head_dim", 15);

    [Fact]
    public void Null_q_lora_rank_is_fine_but_zero_is_not()
    {
        Assert.Null(ModelConfig.Parse(ConfigJson.Set(ConfigFixtures.DeepSeekV3, "q_lora_rank", null)).QLoraRank);
        RejectsSet(ConfigFixtures.DeepSeekV3, "q_lora_rank", 0);
    }

    [Theory]
    [InlineData("vocab_size")]
    [InlineData("hidden_size")]
    [InlineData("intermediate_size")]
    [InlineData("num_hidden_layers")]
    [InlineData("num_attention_heads")]
    [InlineData("num_key_value_heads")]
    [InlineData("max_position_embeddings")]
    [InlineData("kv_lora_rank")]
    [InlineData("qk_nope_head_dim")]
    [InlineData("qk_rope_head_dim")]
    [InlineData("v_head_dim")]
    [InlineData("moe_intermediate_size")]
    [InlineData("num_experts_per_tok")]
    [InlineData("moe_layer_freq")]
    [InlineData("n_group")]
    [InlineData("topk_group")]
    [InlineData("rope_scaling.original_max_position_embeddings")]
    [InlineData("rope_scaling.beta_fast")]
    [InlineData("rope_scaling.beta_slow")]
    public void Zero_dimension_is_named(string key) => RejectsSet(ConfigFixtures.DeepSeekV3, key, 0);

    [Theory]
    [InlineData("vocab_size")]
    [InlineData("hidden_size")]
    [InlineData("intermediate_size")]
    [InlineData("num_attention_heads")]
    [InlineData("num_key_value_heads")]
    [InlineData("head_dim")]
    public void Zero_dimension_in_dense_config_is_named(string key) => RejectsSet(ConfigFixtures.R1DistillQwen, key, 0);

    // ---- unsupported values ----

    [Fact]
    public void Unknown_model_type_lists_the_supported_ones()
    {
        var ex = RejectsSet(ConfigFixtures.DeepSeekV3, "model_type", "mixtral");
        Assert.Contains("mixtral", ex.Message, StringComparison.Ordinal);
        foreach (string supported in ModelConfigNames.SupportedModelTypes)
            Assert.Contains(supported, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Unknown_topk_method() => RejectsSet(ConfigFixtures.DeepSeekV3, "topk_method", "random");

    [Fact]
    public void Unknown_scoring_func() => RejectsSet(ConfigFixtures.DeepSeekV3, "scoring_func", "tanh");

    [Fact]
    public void Unknown_rope_type() => RejectsSet(ConfigFixtures.DeepSeekV3, "rope_scaling.type", "longrope");

    [Fact]
    public void Unknown_rope_type_under_rope_type_key() => RejectsSet(ConfigFixtures.R1DistillLlama, "rope_scaling.rope_type", "su");

    [Fact]
    public void Contradicting_type_and_rope_type() =>
        RejectsSet(ConfigFixtures.DeepSeekV3, "rope_scaling.rope_type", "linear", "rope_scaling.type");

    [Fact]
    public void Unsupported_quant_method_says_so()
    {
        var ex = RejectsSet(ConfigFixtures.DeepSeekV3, "quantization_config.quant_method", "bitsandbytes");
        Assert.Contains("unsupported", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Unsupported_fp8_format_says_so()
    {
        var ex = RejectsSet(ConfigFixtures.DeepSeekV3, "quantization_config.fmt", "e5m2");
        Assert.Contains("unsupported", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Unsupported_activation_scheme_says_so()
    {
        var ex = RejectsSet(ConfigFixtures.DeepSeekV3, "quantization_config.activation_scheme", "static");
        Assert.Contains("unsupported", ex.Message, StringComparison.Ordinal);
    }

    // ---- contradictions ----

    [Fact]
    public void Topk_group_above_n_group() => RejectsSet(ConfigFixtures.DeepSeekV3, "topk_group", 9);

    [Fact]
    public void Routed_experts_not_divisible_into_groups() => RejectsSet(ConfigFixtures.DeepSeekV3, "n_routed_experts", 250, "n_group");

    [Fact]
    public void More_experts_per_token_than_routed_experts() => RejectsSet(ConfigFixtures.TinyV3, "num_experts_per_tok", 9);

    [Fact]
    public void Cannot_choose_k_experts_from_the_kept_groups()
    {
        // 8 experts in 4 groups of 2; keeping 1 group leaves 2 experts, fewer than top-3.
        string json = ConfigJson.Edit(ConfigFixtures.TinyV3, o =>
        {
            o["topk_group"] = 1;
            o["num_experts_per_tok"] = 3;
        });
        var ex = Rejects(json, "num_experts_per_tok");
        Assert.Contains("topk_group", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Noaux_tc_needs_two_experts_per_group() => RejectsSet(ConfigFixtures.TinyV3, "n_group", 8, "n_group");

    [Fact]
    public void Heads_not_a_multiple_of_kv_heads() => RejectsSet(ConfigFixtures.R1DistillQwen, "num_key_value_heads", 5);

    [Fact]
    public void Heads_not_a_multiple_of_kv_heads_in_mla_config() => RejectsSet(ConfigFixtures.DeepSeekV3, "num_key_value_heads", 48);

    [Fact]
    public void Dense_hidden_not_divisible_by_heads_without_head_dim() =>
        RejectsSet(ConfigFixtures.R1DistillQwen, "hidden_size", 1540);

    [Fact]
    public void Dense_hidden_not_divisible_by_heads_is_fine_with_head_dim()
    {
        string json = ConfigJson.Edit(ConfigFixtures.R1DistillQwen, o =>
        {
            o["hidden_size"] = 1540;
            o["head_dim"] = 128;
        });
        Assert.Equal(128, ModelConfig.Parse(json).HeadDim);
    }

    [Fact]
    public void First_k_dense_replace_beyond_the_layers() => RejectsSet(ConfigFixtures.DeepSeekV3, "first_k_dense_replace", 62);

    [Fact]
    public void Shared_experts_without_routed_experts() => RejectsSet(ConfigFixtures.TinyV3, "n_routed_experts", 0, "n_shared_experts");

    [Fact]
    public void Yarn_without_original_max_position_embeddings() =>
        Rejects(ConfigJson.Remove(ConfigFixtures.DeepSeekV3, "rope_scaling.original_max_position_embeddings"),
            "rope_scaling.original_max_position_embeddings");

    [Fact]
    public void Yarn_factor_below_one() => RejectsSet(ConfigFixtures.DeepSeekV3, "rope_scaling.factor", 0.5);

    [Fact]
    public void Llama3_high_freq_factor_not_above_low() => RejectsSet(ConfigFixtures.R1DistillLlama, "rope_scaling.high_freq_factor", 1.0);

    [Fact]
    public void Negative_mscale() => RejectsSet(ConfigFixtures.DeepSeekV3, "rope_scaling.mscale", -1);

    [Theory]
    [InlineData("[128]")]
    [InlineData("[128, 128, 128]")]
    [InlineData("[128, 0]")]
    [InlineData("[-128, 128]")]
    [InlineData("[128, 1.5]")]
    [InlineData("[128, \"128\"]")]
    [InlineData("\"128x128\"")]
    [InlineData("128")]
    [InlineData("null")]
    public void Weight_block_size_must_be_two_positive_ints(string value) =>
        RejectsSet(ConfigFixtures.DeepSeekV3, "quantization_config.weight_block_size", JsonNode.Parse(value));

    [Fact]
    public void Bos_outside_the_vocabulary() => RejectsSet(ConfigFixtures.DeepSeekV3, "bos_token_id", 129280);

    [Fact]
    public void Negative_bos() => RejectsSet(ConfigFixtures.DeepSeekV3, "bos_token_id", -1);

    [Fact]
    public void Eos_outside_the_vocabulary() => RejectsSet(ConfigFixtures.DeepSeekV3, "eos_token_id", 129280);

    [Fact]
    public void Eos_list_entry_outside_the_vocabulary() =>
        RejectsSet(ConfigFixtures.R1DistillLlama, "eos_token_id", new JsonArray(128001, 128256));

    [Fact]
    public void Error_without_a_source_name_has_no_file()
    {
        var ex = Assert.Throws<ModelConfigException>(() => ModelConfig.Parse(ConfigJson.Set(ConfigFixtures.TinyV3, "topk_group", 5)));
        Assert.Null(ex.File);
        Assert.Equal("topk_group", ex.Key);
    }
}
