using DeepSeek.Runtime.Checkpoints;

namespace DeepSeek.Runtime.Tests.Checkpoints;

public class ModelConfigTests
{
    [Fact]
    public void DeepSeekV3_published_config_parses_every_field()
    {
        var c = ModelConfig.Parse(ConfigFixtures.DeepSeekV3);

        Assert.Equal("deepseek_v3", c.ModelType);
        Assert.Equal(ModelArchitecture.DeepSeekV3, c.Architecture);
        Assert.Equal(129280, c.VocabSize);
        Assert.Equal(7168, c.HiddenSize);
        Assert.Equal(18432, c.IntermediateSize);
        Assert.Equal(2048, c.MoeIntermediateSize);
        Assert.Equal(61, c.NumHiddenLayers);
        Assert.Equal(3, c.FirstKDenseReplace);
        Assert.Equal(1, c.MoeLayerFreq);
        Assert.Equal(128, c.NumAttentionHeads);
        Assert.Equal(128, c.NumKeyValueHeads);
        Assert.Equal(192, c.HeadDim);
        Assert.Equal(1536, c.QLoraRank);
        Assert.Equal(512, c.KvLoraRank);
        Assert.Equal(128, c.QkNopeHeadDim);
        Assert.Equal(64, c.QkRopeHeadDim);
        Assert.Equal(128, c.VHeadDim);
        Assert.Equal(256, c.NRoutedExperts);
        Assert.Equal(1, c.NSharedExperts);
        Assert.Equal(8, c.NumExpertsPerTok);
        Assert.Equal(8, c.NGroup);
        Assert.Equal(4, c.TopKGroup);
        Assert.Equal(TopKMethod.NoAuxTc, c.TopKMethod);
        Assert.Equal(ScoringFunction.Sigmoid, c.ScoringFunc);
        Assert.True(c.NormTopKProb);
        Assert.Equal(2.5, c.RoutedScalingFactor);
        Assert.Equal(10000.0, c.RopeTheta);
        Assert.Equal(
            new RopeScaling
            {
                Type = RopeScalingType.Yarn, Factor = 40, OriginalMaxPositionEmbeddings = 4096,
                BetaFast = 32, BetaSlow = 1, MScale = 1.0, MScaleAllDim = 1.0,
            },
            c.RopeScaling);
        Assert.Equal(1e-6, c.RmsNormEps);
        Assert.Equal(163840, c.MaxPositionEmbeddings);
        Assert.Equal(1, c.NumNextNPredictLayers);
        Assert.False(c.TieWordEmbeddings);
        Assert.False(c.AttentionBias);
        Assert.Equal(0, c.BosTokenId);
        Assert.Equal([1], c.EosTokenIds);
        Assert.Equal("bfloat16", c.TorchDtype);
        Assert.Equal("silu", c.HiddenAct);
        Assert.Equal(
            new QuantizationConfig { QuantMethod = "fp8", Format = "e4m3", BlockRows = 128, BlockCols = 128, ActivationScheme = "dynamic" },
            c.Quantization);
        Assert.Equal(QuantizationConfig.DeepSeekFp8, c.Quantization);
    }

    [Fact]
    public void DeepSeekV3_derived_members()
    {
        var c = ModelConfig.Parse(ConfigFixtures.DeepSeekV3);

        Assert.True(c.IsMla);
        Assert.True(c.IsMoe);
        Assert.Equal(192, c.QkHeadDim);
        Assert.Equal(62, c.TotalLayers);
        Assert.Equal(576, c.KvCacheValuesPerTokenPerLayer);
        double m = (0.1 * Math.Log(40)) + 1;
        Assert.Equal(Math.Pow(192, -0.5) * m * m, c.SoftmaxScale, 1e-12);
        Assert.Equal(0.1352, c.SoftmaxScale, 1e-4);
        Assert.Equal(1.0, c.RopeScaling!.CosSinScale);
        Assert.False(c.IsMoeLayer(0));
        Assert.False(c.IsMoeLayer(2));
        Assert.True(c.IsMoeLayer(3));
        Assert.True(c.IsMoeLayer(60));
        Assert.True(c.IsMoeLayer(61)); // the MTP block is MoE too
        Assert.Throws<ArgumentOutOfRangeException>(() => c.IsMoeLayer(62));
        Assert.Throws<ArgumentOutOfRangeException>(() => c.IsMoeLayer(-1));
    }

    [Fact]
    public void DeepSeekV2Lite_published_config_parses_every_field()
    {
        var c = ModelConfig.Parse(ConfigFixtures.DeepSeekV2Lite);

        Assert.Equal("deepseek_v2", c.ModelType);
        Assert.Equal(ModelArchitecture.DeepSeekV2, c.Architecture);
        Assert.Equal(102400, c.VocabSize);
        Assert.Equal(2048, c.HiddenSize);
        Assert.Equal(10944, c.IntermediateSize);
        Assert.Equal(1408, c.MoeIntermediateSize);
        Assert.Equal(27, c.NumHiddenLayers);
        Assert.Equal(1, c.FirstKDenseReplace);
        Assert.Equal(1, c.MoeLayerFreq);
        Assert.Equal(16, c.NumAttentionHeads);
        Assert.Equal(16, c.NumKeyValueHeads);
        Assert.Equal(192, c.HeadDim);
        Assert.Null(c.QLoraRank);
        Assert.Equal(512, c.KvLoraRank);
        Assert.Equal(128, c.QkNopeHeadDim);
        Assert.Equal(64, c.QkRopeHeadDim);
        Assert.Equal(128, c.VHeadDim);
        Assert.Equal(64, c.NRoutedExperts);
        Assert.Equal(2, c.NSharedExperts);
        Assert.Equal(6, c.NumExpertsPerTok);
        Assert.Equal(1, c.NGroup);
        Assert.Equal(1, c.TopKGroup);
        Assert.Equal(TopKMethod.Greedy, c.TopKMethod);
        Assert.Equal(ScoringFunction.Softmax, c.ScoringFunc);
        Assert.False(c.NormTopKProb);
        Assert.Equal(1.0, c.RoutedScalingFactor);
        Assert.Equal(10000.0, c.RopeTheta);
        Assert.Equal(
            new RopeScaling
            {
                Type = RopeScalingType.Yarn, Factor = 40, OriginalMaxPositionEmbeddings = 4096,
                BetaFast = 32, BetaSlow = 1, MScale = 0.707, MScaleAllDim = 0.707,
            },
            c.RopeScaling);
        Assert.Equal(1e-6, c.RmsNormEps);
        Assert.Equal(163840, c.MaxPositionEmbeddings);
        Assert.Equal(0, c.NumNextNPredictLayers);
        Assert.False(c.TieWordEmbeddings);
        Assert.False(c.AttentionBias);
        Assert.Equal(100000, c.BosTokenId);
        Assert.Equal([100001], c.EosTokenIds);
        Assert.Equal("bfloat16", c.TorchDtype);
        Assert.Equal("silu", c.HiddenAct);
        Assert.Null(c.Quantization);
    }

    [Fact]
    public void DeepSeekV2Lite_derived_members()
    {
        var c = ModelConfig.Parse(ConfigFixtures.DeepSeekV2Lite);

        Assert.False(c.IsMoeLayer(0));
        Assert.True(c.IsMoeLayer(1));
        Assert.True(c.IsMoeLayer(26));
        Assert.Equal(576, c.KvCacheValuesPerTokenPerLayer);
        double m = (0.1 * 0.707 * Math.Log(40)) + 1;
        Assert.Equal(Math.Pow(192, -0.5) * m * m, c.SoftmaxScale, 1e-12);
        Assert.Equal(1.0, c.RopeScaling!.CosSinScale, 1e-12); // mscale == mscale_all_dim
    }

    [Fact]
    public void R1DistillQwen_dense_config()
    {
        var c = ModelConfig.Parse(ConfigFixtures.R1DistillQwen);

        Assert.Equal(ModelArchitecture.Qwen2, c.Architecture);
        Assert.Equal("qwen2", c.ModelType);
        Assert.Equal(151936, c.VocabSize);
        Assert.Equal(1536, c.HiddenSize);
        Assert.Equal(8960, c.IntermediateSize);
        Assert.Equal(28, c.NumHiddenLayers);
        Assert.Equal(12, c.NumAttentionHeads);
        Assert.Equal(2, c.NumKeyValueHeads);
        Assert.Equal(128, c.HeadDim);
        Assert.Equal(10000.0, c.RopeTheta);
        Assert.Null(c.RopeScaling);
        Assert.Equal(1e-6, c.RmsNormEps);
        Assert.Equal(131072, c.MaxPositionEmbeddings);
        Assert.False(c.TieWordEmbeddings);
        Assert.True(c.AttentionBias); // Qwen2 always has q/k/v biases
        Assert.Equal(151643, c.BosTokenId);
        Assert.Equal([151643], c.EosTokenIds);
        Assert.False(c.IsMla);
        Assert.False(c.IsMoe);
        Assert.Equal(0, c.KvLoraRank);
        Assert.Equal(0, c.NRoutedExperts);
        Assert.Null(c.QLoraRank);
        Assert.Equal(128, c.QkHeadDim);
        Assert.Equal(2 * 2 * 128, c.KvCacheValuesPerTokenPerLayer);
        Assert.Equal(1 / Math.Sqrt(128), c.SoftmaxScale, 1e-15);
        Assert.False(c.IsMoeLayer(5));
    }

    [Fact]
    public void R1DistillLlama_dense_config_with_llama3_rope_and_eos_list()
    {
        var c = ModelConfig.Parse(ConfigFixtures.R1DistillLlama);

        Assert.Equal(ModelArchitecture.Llama, c.Architecture);
        Assert.Equal(128256, c.VocabSize);
        Assert.Equal(4096, c.HiddenSize);
        Assert.Equal(14336, c.IntermediateSize);
        Assert.Equal(32, c.NumHiddenLayers);
        Assert.Equal(32, c.NumAttentionHeads);
        Assert.Equal(8, c.NumKeyValueHeads);
        Assert.Equal(128, c.HeadDim);
        Assert.Equal(500000.0, c.RopeTheta);
        Assert.Equal(1e-5, c.RmsNormEps);
        Assert.False(c.AttentionBias);
        Assert.Equal(
            new RopeScaling { Type = RopeScalingType.Llama3, Factor = 8, LowFreqFactor = 1, HighFreqFactor = 4, OriginalMaxPositionEmbeddings = 8192 },
            c.RopeScaling);
        Assert.Equal(128000, c.BosTokenId);
        Assert.Equal([128001, 128008, 128009], c.EosTokenIds);
        Assert.Equal(2 * 8 * 128, c.KvCacheValuesPerTokenPerLayer);
    }

    [Fact]
    public void TinyV3_has_the_dims_test_checkpoints_use()
    {
        var c = ModelConfig.Parse(ConfigFixtures.TinyV3);

        Assert.Equal(ModelArchitecture.DeepSeekV3, c.Architecture);
        Assert.Equal((320, 160, 288, 96), (c.VocabSize, c.HiddenSize, c.IntermediateSize, c.MoeIntermediateSize));
        Assert.Equal((3, 1, 4), (c.NumHiddenLayers, c.FirstKDenseReplace, c.NumAttentionHeads));
        Assert.Equal((96, 64, 32, 16, 32), (c.QLoraRank, c.KvLoraRank, c.QkNopeHeadDim, c.QkRopeHeadDim, c.VHeadDim));
        Assert.Equal((8, 1, 2, 4, 2), (c.NRoutedExperts, c.NSharedExperts, c.NumExpertsPerTok, c.NGroup, c.TopKGroup));
        Assert.Equal((TopKMethod.NoAuxTc, ScoringFunction.Sigmoid, true, 2.5), (c.TopKMethod, c.ScoringFunc, c.NormTopKProb, c.RoutedScalingFactor));
        Assert.Equal(new RopeScaling { Type = RopeScalingType.Yarn, Factor = 4, OriginalMaxPositionEmbeddings = 64, MScale = 1, MScaleAllDim = 1 }, c.RopeScaling);
        Assert.Equal((256, 1, 0), (c.MaxPositionEmbeddings, c.NumNextNPredictLayers, c.BosTokenId));
        Assert.Equal([1], c.EosTokenIds);
        Assert.Null(c.Quantization);
        Assert.Equal(80, c.KvCacheValuesPerTokenPerLayer);
        Assert.False(c.IsMoeLayer(0));
        Assert.True(c.IsMoeLayer(1));
        Assert.True(c.IsMoeLayer(3)); // MTP layer

        var fp8 = ModelConfig.Parse(ConfigFixtures.TinyV3Fp8);
        Assert.Equal(QuantizationConfig.DeepSeekFp8, fp8.Quantization);
        Assert.Equal(c, fp8 with { Quantization = null });
    }

    public static TheoryData<string> FixtureNames => [.. ConfigFixtures.All.Keys];

    [Theory]
    [MemberData(nameof(FixtureNames))]
    public void ToJson_then_Parse_round_trips_to_an_equal_record(string name)
    {
        var original = ModelConfig.Parse(ConfigFixtures.All[name]);

        string json = original.ToJson();
        var back = ModelConfig.Parse(json);

        Assert.Equal(original, back);
        Assert.Equal(original.GetHashCode(), back.GetHashCode());
        Assert.Equal(json, back.ToJson());
    }

    [Fact]
    public void EosTokenIds_compare_by_content_and_are_copied()
    {
        var a = ModelConfig.Parse(ConfigFixtures.R1DistillLlama);
        int[] ids = [128001, 128008, 128009];
        var b = a with { EosTokenIds = ids };
        ids[0] = 5;

        Assert.Equal(a, b);
        Assert.Equal(128001, b.EosTokenIds[0]);
        Assert.NotEqual(a, a with { EosTokenIds = [128001, 128009] });
        Assert.NotEqual(a, a with { EosTokenIds = [] });
    }

    [Fact]
    public void Record_equality_sees_nested_records()
    {
        var a = ModelConfig.Parse(ConfigFixtures.DeepSeekV3);
        Assert.NotEqual(a, a with { RopeScaling = a.RopeScaling! with { Factor = 41 } });
        Assert.NotEqual(a, a with { Quantization = null });
    }

    [Fact]
    public void Minimal_V3_config_gets_documented_defaults()
    {
        var c = ModelConfig.Parse("""
            { "model_type": "deepseek_v3", "vocab_size": 100, "hidden_size": 64, "intermediate_size": 128,
              "num_hidden_layers": 2, "num_attention_heads": 2, "kv_lora_rank": 16, "qk_nope_head_dim": 8,
              "qk_rope_head_dim": 4, "v_head_dim": 8 }
            """);

        Assert.Equal(TopKMethod.NoAuxTc, c.TopKMethod);
        Assert.Equal(ScoringFunction.Sigmoid, c.ScoringFunc);
        Assert.True(c.NormTopKProb);
        Assert.Equal(1.0, c.RoutedScalingFactor);
        Assert.Equal(0, c.NRoutedExperts);
        Assert.False(c.IsMoe);
        Assert.False(c.IsMoeLayer(1));
        Assert.Null(c.QLoraRank);
        Assert.Equal(2, c.NumKeyValueHeads);
        Assert.Equal((1, 1, 1, 0, 0), (c.NGroup, c.TopKGroup, c.MoeLayerFreq, c.FirstKDenseReplace, c.NumNextNPredictLayers));
        Assert.Equal((10000.0, 1e-6, 4096), (c.RopeTheta, c.RmsNormEps, c.MaxPositionEmbeddings));
        Assert.Null(c.RopeScaling);
        Assert.Null(c.BosTokenId);
        Assert.Empty(c.EosTokenIds);
        Assert.Equal("silu", c.HiddenAct);
        Assert.Null(c.TorchDtype);
        Assert.Equal(Math.Pow(12, -0.5), c.SoftmaxScale, 1e-15);
    }

    [Fact]
    public void Minimal_V2_config_gets_V2_routing_defaults()
    {
        var c = ModelConfig.Parse("""
            { "model_type": "deepseek_v2", "vocab_size": 100, "hidden_size": 64, "intermediate_size": 128,
              "num_hidden_layers": 2, "num_attention_heads": 2, "kv_lora_rank": 16, "qk_nope_head_dim": 8,
              "qk_rope_head_dim": 4, "v_head_dim": 8, "n_routed_experts": 4, "moe_intermediate_size": 32,
              "num_experts_per_tok": 2, "n_group": null, "topk_group": null, "n_shared_experts": null }
            """);

        Assert.Equal(TopKMethod.Greedy, c.TopKMethod);
        Assert.Equal(ScoringFunction.Softmax, c.ScoringFunc);
        Assert.False(c.NormTopKProb);
        Assert.Equal((1, 1, 0), (c.NGroup, c.TopKGroup, c.NSharedExperts));
        Assert.Equal(2048, c.MaxPositionEmbeddings);
        Assert.True(c.IsMoeLayer(0));
    }

    [Fact]
    public void Dense_head_dim_key_wins_over_hidden_over_heads()
    {
        var c = ModelConfig.Parse(ConfigJson.Set(ConfigFixtures.R1DistillQwen, "head_dim", 64));
        Assert.Equal(64, c.HeadDim);
        Assert.Equal(1 / 8.0, c.SoftmaxScale, 1e-15);
    }

    [Fact]
    public void Qwen2_attention_bias_can_be_turned_off_explicitly()
    {
        Assert.False(ModelConfig.Parse(ConfigJson.Set(ConfigFixtures.R1DistillQwen, "attention_bias", false)).AttentionBias);
    }

    [Fact]
    public void Misspelt_HF_V2_default_gready_means_greedy()
    {
        var c = ModelConfig.Parse(ConfigJson.Set(ConfigFixtures.DeepSeekV2Lite, "topk_method", "gready"));
        Assert.Equal(TopKMethod.Greedy, c.TopKMethod);
    }

    [Theory]
    [InlineData("default")]
    [InlineData(null)]
    public void Rope_scaling_default_or_null_means_none(string? type)
    {
        string json = type is null
            ? ConfigJson.Set(ConfigFixtures.DeepSeekV3, "rope_scaling", null)
            : ConfigJson.Set(ConfigFixtures.DeepSeekV3, "rope_scaling.type", type);

        var c = ModelConfig.Parse(json);

        Assert.Null(c.RopeScaling);
        Assert.Equal(Math.Pow(192, -0.5), c.SoftmaxScale, 1e-15);
    }

    [Fact]
    public void Rope_type_and_type_may_both_be_present_when_they_agree()
    {
        var c = ModelConfig.Parse(ConfigJson.Set(ConfigFixtures.DeepSeekV3, "rope_scaling.rope_type", "yarn"));
        Assert.Equal(RopeScalingType.Yarn, c.RopeScaling!.Type);
    }

    [Fact]
    public void Yarn_cos_sin_scale_is_the_ratio_of_mscales()
    {
        var r = new RopeScaling { Type = RopeScalingType.Yarn, Factor = 40, OriginalMaxPositionEmbeddings = 4096, MScale = 1, MScaleAllDim = 0 };
        Assert.Equal((0.1 * Math.Log(40)) + 1, r.CosSinScale, 1e-12);
        Assert.Equal(1.0, RopeScaling.YarnMScale(1.0, 5.0));
        Assert.Equal(1.0, RopeScaling.YarnMScale(0.5, 5.0));
    }

    [Fact]
    public void Integral_floats_are_accepted_for_ints()
    {
        var c = ModelConfig.Parse(ConfigJson.Set(ConfigFixtures.DeepSeekV3, "vocab_size", 129280.0));
        Assert.Equal(129280, c.VocabSize);
    }

    [Fact]
    public void Torch_dtype_falls_back_to_the_newer_dtype_key()
    {
        string json = ConfigJson.Edit(ConfigFixtures.R1DistillQwen, o =>
        {
            o.Remove("torch_dtype");
            o["dtype"] = "float16";
        });
        Assert.Equal("float16", ModelConfig.Parse(json).TorchDtype);
    }

    [Fact]
    public void Load_reads_a_file_or_a_checkpoint_directory()
    {
        string dir = Directory.CreateTempSubdirectory("modelconfig-").FullName;
        try
        {
            string file = Path.Combine(dir, "config.json");
            File.WriteAllText(file, ConfigFixtures.TinyV3);

            var expected = ModelConfig.Parse(ConfigFixtures.TinyV3);
            Assert.Equal(expected, ModelConfig.Load(file));
            Assert.Equal(expected, ModelConfig.Load(dir));

            File.WriteAllText(file, ConfigJson.Set(ConfigFixtures.TinyV3, "topk_group", 5));
            var ex = Assert.Throws<ModelConfigException>(() => ModelConfig.Load(file));
            Assert.Equal("topk_group", ex.Key);
            Assert.Equal(file, ex.File);
            Assert.Contains(file, ex.Message, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Load_of_a_missing_file_names_the_file()
    {
        string path = Path.Combine(Path.GetTempPath(), Guid.NewGuid().ToString("N"), "config.json");
        var ex = Assert.Throws<ModelConfigException>(() => ModelConfig.Load(path));
        Assert.Equal("(file)", ex.Key);
        Assert.Equal(path, ex.File);
    }

    [Fact]
    public void Validate_rechecks_a_config_built_with_with()
    {
        var c = ModelConfig.Parse(ConfigFixtures.TinyV3);
        c.Validate();

        Assert.Equal("topk_group", Assert.Throws<ModelConfigException>(() => (c with { TopKGroup = 5 }).Validate()).Key);
        Assert.Equal("head_dim", Assert.Throws<ModelConfigException>(() => (c with { QkNopeHeadDim = 16 }).Validate()).Key);
        Assert.Equal("rope_scaling.factor",
            Assert.Throws<ModelConfigException>(() => (c with { RopeScaling = c.RopeScaling! with { Factor = 0.5 } }).Validate()).Key);

        var dense = ModelConfig.Parse(ConfigFixtures.R1DistillQwen);
        Assert.Equal("kv_lora_rank", Assert.Throws<ModelConfigException>(() => (dense with { KvLoraRank = 8 }).Validate()).Key);
        Assert.Equal("n_routed_experts", Assert.Throws<ModelConfigException>(() => (dense with { NRoutedExperts = 8 }).Validate()).Key);
    }
}
