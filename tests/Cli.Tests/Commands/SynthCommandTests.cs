using DeepSeek.Cli.Commands;
using DeepSeek.Runtime.Checkpoints;

using DeepSeek.Runtime.Tests;

namespace DeepSeek.Cli.Tests.Commands;

public sealed class SynthCommandTests
{
    [Fact]
    public void The_v2_lite_slice_has_issue_5s_shapes()
    {
        var c = ModelConfig.Parse(SynthPresets.Json("v2-lite-slice"));
        Assert.Equal(ModelArchitecture.DeepSeekV2, c.Architecture);
        Assert.Equal((2048, 16, 4, 102400), (c.HiddenSize, c.NumAttentionHeads, c.NumHiddenLayers, c.VocabSize));
        Assert.Null(c.QLoraRank);
        Assert.Equal((512, 128, 64, 128), (c.KvLoraRank, c.QkNopeHeadDim, c.QkRopeHeadDim, c.VHeadDim));
        Assert.Equal((1, 10944), (c.FirstKDenseReplace, c.IntermediateSize));
        Assert.Equal((64, 2, 6, 1408), (c.NRoutedExperts, c.NSharedExperts, c.NumExpertsPerTok, c.MoeIntermediateSize));
    }

    [Fact]
    public void The_qwen2_slice_has_qwen2_1_5b_shapes()
    {
        var c = ModelConfig.Parse(SynthPresets.Json("qwen2-1.5b-slice"));
        Assert.Equal(ModelArchitecture.Qwen2, c.Architecture);
        Assert.Equal((1536, 8960, 12, 2, 128), (c.HiddenSize, c.IntermediateSize, c.NumAttentionHeads, c.NumKeyValueHeads, c.HeadDim));
        Assert.Equal((151936, 4), (c.VocabSize, c.NumHiddenLayers));
        Assert.True(c.TieWordEmbeddings);
        Assert.True(c.AttentionBias);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Synth_needs_exactly_one_of_config_and_preset(bool both)
    {
        string[] args = both
            ? ["synth", "--config", RepoPaths.TestData("models", "tiny-qwen2", "config.json"), "--preset", "v2-lite-slice", "--out", Path.GetTempPath()]
            : ["synth", "--out", Path.GetTempPath()];
        var (exit, _, error) = await CliRun.RunAsync(args);
        Assert.Equal(1, exit);
        Assert.Equal("error: give either --config FILE or --preset NAME", error.Trim());
    }
}
