using System.Text.Json;
using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Tensors;
using DeepSeek.Runtime.Tests;
using DeepSeek.Runtime.Tests.Checkpoints;

namespace DeepSeek.Cli.Tests.Commands;

public class InspectCommandTests
{
    private static string Fp8Sharded(TempDir dir)
    {
        var path = dir.File("tiny-fp8");
        SyntheticCheckpoint.Write(ModelConfig.Parse(ConfigFixtures.TinyV3), path, new SyntheticCheckpointOptions { WeightDType = DType.F8_E4M3, Shards = 3 });
        return path;
    }

    [Fact]
    public async Task Inspects_a_sharded_fp8_tiny_v3_checkpoint()
    {
        using var dir = new TempDir();
        var (exit, output, error) = await CliRun.RunAsync("inspect", "--model", Fp8Sharded(dir));

        Assert.Equal(0, exit);
        Assert.Empty(error);
        Assert.Contains("deepseek_v3", output);
        Assert.Contains("MLA: 4 heads, q_lora 96, kv_lora 64", output);
        Assert.Contains("8 routed + 1 shared experts", output);
        Assert.Contains("3 file(s)", output);
        Assert.Contains("model-00003-of-00003.safetensors", output);
        Assert.Contains("F8_E4M3", output);
        Assert.Contains("80 values/token/layer × 3 layers = 480 bytes/token in BF16", output);
        Assert.Contains("validation   ok", output);
    }

    [Fact]
    public async Task Json_report_has_the_documented_keys()
    {
        using var dir = new TempDir();
        var path = Fp8Sharded(dir);
        var (exit, output, _) = await CliRun.RunAsync("inspect", "--model", path, "--json");
        Assert.Equal(0, exit);

        using var doc = JsonDocument.Parse(output);
        var root = doc.RootElement;
        Assert.Equal("deepseek_v3", root.GetProperty("model_type").GetString());
        Assert.True(root.GetProperty("valid").GetBoolean());
        var config = ModelConfig.Parse(ConfigFixtures.TinyV3);
        var counts = CheckpointSummary.CountParameters(config);
        Assert.Equal(counts.Total, root.GetProperty("parameters").GetProperty("total").GetInt64());
        Assert.Equal(counts.ActivatedPerToken, root.GetProperty("parameters").GetProperty("activated_per_token").GetInt64());
        Assert.Equal(80, root.GetProperty("kv_cache").GetProperty("values_per_token_per_layer").GetInt32());
        Assert.Equal(80 * 3 * 2, root.GetProperty("kv_cache").GetProperty("bytes_per_token_bf16").GetInt64());
        Assert.Equal(3, root.GetProperty("shards").GetArrayLength());
        Assert.Equal(Directory.GetFiles(path, "*.safetensors").Sum(f => new FileInfo(f).Length),
            root.GetProperty("shards").EnumerateArray().Sum(s => s.GetProperty("bytes").GetInt64()));
        Assert.Contains(root.GetProperty("dtypes").EnumerateArray(), d => d.GetProperty("dtype").GetString() == "F8_E4M3");
        Assert.Equal(0, root.GetProperty("problems").GetArrayLength());
    }

    [Fact]
    public async Task Damaged_shard_gives_one_clear_line_and_non_zero_exit()
    {
        using var dir = new TempDir();
        var path = Fp8Sharded(dir);
        var shard = Path.Combine(path, "model-00002-of-00003.safetensors");
        var bytes = File.ReadAllBytes(shard);
        File.WriteAllBytes(shard, bytes[..(bytes.Length - 100)]);

        var (exit, output, error) = await CliRun.RunAsync("inspect", "--model", path);
        Assert.NotEqual(0, exit);
        Assert.Empty(output);
        var line = Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("error: ", line);
        Assert.Contains("model-00002-of-00003.safetensors", line);
        Assert.Contains("truncated", line);

        var verbose = await CliRun.RunAsync("inspect", "--model", path, "--verbose");
        Assert.Contains("   at ", verbose.Err);
    }

    [Fact]
    public async Task Shape_mismatch_lists_the_invalid_tensors()
    {
        using var dir = new TempDir();
        var path = Fp8Sharded(dir);
        var config = ModelConfig.Parse(ConfigFixtures.TinyV3) with { MoeIntermediateSize = 64 };
        File.WriteAllText(Path.Combine(path, "config.json"), config.ToJson());

        var (exit, output, error) = await CliRun.RunAsync("inspect", "--model", path);
        Assert.Equal(1, exit);
        Assert.Contains("validation   FAILED", output);
        Assert.Contains("model.layers.1.mlp.experts.0.gate_proj.weight: shape [96, 160] does not match [64, 160]", output);
        Assert.StartsWith("error: ", error);
        Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public async Task Missing_folder_and_bad_config_are_one_line_errors()
    {
        using var dir = new TempDir();
        var missing = await CliRun.RunAsync("inspect", "--model", dir.File("nope"));
        Assert.Equal(1, missing.Exit);
        Assert.StartsWith("error: checkpoint folder not found", missing.Err);

        Directory.CreateDirectory(dir.File("bad"));
        var config = System.Text.Json.Nodes.JsonNode.Parse(ConfigFixtures.TinyV3)!.AsObject();
        config["vocab_size"] = "many";
        File.WriteAllText(dir.File("bad/config.json"), config.ToJsonString());
        var bad = await CliRun.RunAsync("inspect", "--model", dir.File("bad"));
        Assert.Equal(1, bad.Exit);
        Assert.Contains("vocab_size", bad.Err);
        Assert.DoesNotContain("   at ", bad.Err);
    }

    [Fact]
    public async Task Synth_then_inspect_round_trip()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("config.json"), ConfigFixtures.TinyV3);
        var synth = await CliRun.RunAsync("synth", "--config", dir.File("config.json"), "--out", dir.File("out"), "--dtype", "fp8", "--shards", "2", "--seed", "3");
        Assert.Equal(0, synth.Exit);
        Assert.Contains("model.safetensors.index.json", synth.Out);
        var inspect = await CliRun.RunAsync("inspect", "--model", dir.File("out"));
        Assert.Equal(0, inspect.Exit);
        Assert.Contains("2 file(s)", inspect.Out);
    }
}
