using DeepSeek.Runtime.Checkpoints;

namespace DeepSeek.Runtime.Tests.Checkpoints;

/// <summary>Parameter counts against the figures DeepSeek publish for the released models.</summary>
public class ParameterCountTests
{
    [Fact]
    public void DeepSeek_V3_is_671B_with_37B_activated()
    {
        var p = CheckpointSummary.CountParameters(ModelConfig.Parse(ConfigFixtures.DeepSeekV3));
        Assert.InRange(p.Total, 670.5e9, 671.5e9);
        Assert.InRange(p.ActivatedPerToken, 36.5e9, 37.5e9);
        // The MTP module: one more MoE block plus eh_proj and norms (~11.5B without its shared embedding/head copies).
        Assert.InRange(p.Mtp, 11e9, 12.5e9);
    }

    [Fact]
    public void DeepSeek_V2_Lite_is_15_7B_with_2_4B_activated()
    {
        var p = CheckpointSummary.CountParameters(ModelConfig.Parse(ConfigFixtures.DeepSeekV2Lite));
        Assert.InRange(p.Total, 15.6e9, 15.8e9);
        Assert.InRange(p.ActivatedPerToken, 2.35e9, 2.5e9);
        Assert.Equal(0, p.Mtp);
    }

    [Fact]
    public void Dense_model_activates_everything_but_the_embedding()
    {
        var c = ModelConfig.Parse(ConfigFixtures.R1DistillQwen);
        var p = CheckpointSummary.CountParameters(c);
        Assert.Equal(p.Total - (long)c.VocabSize * c.HiddenSize, p.ActivatedPerToken);
        Assert.InRange(p.Total, 1.7e9, 1.9e9); // R1-Distill-Qwen-1.5B: 1.78B with its untied head
    }

    [Fact]
    public void Latent_kv_cache_of_V3_is_576_values_per_layer()
    {
        var c = ModelConfig.Parse(ConfigFixtures.DeepSeekV3);
        Assert.Equal(576, c.KvCacheValuesPerTokenPerLayer);
    }
}
