using System.Text.Json;
using System.Text.Json.Nodes;
using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Tensors;

namespace DeepSeek.Runtime.Tests.Checkpoints;

public class CheckpointTests
{
    [Fact]
    public void Fp8_checkpoint_in_three_shards_opens_and_binds()
    {
        using var dir = new TempDir();
        var path = TinyCheckpoints.WriteFp8Sharded(dir);
        Assert.Equal(3, Directory.GetFiles(path, "*.safetensors").Length);
        Assert.True(File.Exists(Path.Combine(path, SafeTensorsIndex.FileName)));

        using var ckpt = Checkpoint.Open(path);
        Assert.Equal(3, ckpt.Files.Count);
        Assert.NotNull(ckpt.Index);
        var map = WeightMap.Bind(ckpt);
        Assert.Empty(map.Report.Problems);
        Assert.Empty(map.Report.Unexpected);

        var wkvB = map.Blocks[1].Mla!.WkvB;
        Assert.True(wkvB.IsFp8);
        // kv_b_proj is [heads·(nope+v), kv_lora] = [256, 64]: the scale grid is 2×1, the last block partial in no axis;
        // q_b_proj [4·48, 96] = [192, 96]: rows 128 + 64 (partial).
        Assert.Equal(Shape.Of(2, 1), wkvB.ScaleInv!.Value.Shape);
        Assert.Equal(Shape.Of(2, 1), map.Blocks[0].Mla!.WqB!.ScaleInv!.Value.Shape);
        // hidden 160 → [ceil(288/128), ceil(160/128)] = [3, 2] for the dense layer's up_proj.
        Assert.Equal(Shape.Of(3, 2), map.Blocks[0].Mlp!.Up.ScaleInv!.Value.Shape);
        Assert.False(map.Embed.IsFp8);
        Assert.Equal(DType.BF16, map.Blocks[1].Moe!.Gate.Tensor.DType);
        Assert.Equal(DType.F32, map.Blocks[1].Moe!.GateBias!.Tensor.DType);
        Assert.Single(map.Mtp);
        Assert.Equal(3, map.Mtp[0].Layer);
        Assert.NotNull(map.Mtp[0].Block.Moe);
    }

    [Fact]
    public void Bf16_single_file_binds_every_slot()
    {
        using var dir = new TempDir();
        using var ckpt = Checkpoint.Open(TinyCheckpoints.WriteBf16(dir));
        Assert.Null(ckpt.Index);
        var map = WeightMap.Bind(ckpt);
        var c = ckpt.Config;
        Assert.Equal(c.NumHiddenLayers, map.Blocks.Count);
        Assert.NotNull(map.Blocks[0].Mlp);
        Assert.Null(map.Blocks[0].Moe);
        Assert.Equal(c.NRoutedExperts, map.Blocks[2].Moe!.Experts.Count);
        Assert.Equal(Shape.Of(c.NSharedExperts * c.MoeIntermediateSize, c.HiddenSize), map.Blocks[2].Moe!.SharedExperts!.Gate.Tensor.Shape);
        Assert.Equal(Shape.Of(c.HiddenSize, 2 * c.HiddenSize), map.Mtp[0].EhProj.Tensor.Shape);
        Assert.NotNull(map.LmHead);
        Assert.False(map.Blocks[0].Mla!.WqA!.IsFp8);
    }

    [Fact]
    public void Synthetic_checkpoints_are_deterministic()
    {
        using var dir = new TempDir();
        var a = TinyCheckpoints.WriteFp8Sharded(dir, "a");
        var b = TinyCheckpoints.WriteFp8Sharded(dir, "b");
        foreach (var f in Directory.GetFiles(a))
            Assert.Equal(File.ReadAllBytes(f), File.ReadAllBytes(Path.Combine(b, Path.GetFileName(f))));
    }

    [Fact]
    public void Fp8_weights_dequantise_close_to_the_bf16_ones()
    {
        using var dir = new TempDir();
        using var bf = Checkpoint.Open(TinyCheckpoints.WriteBf16(dir));
        using var f8 = Checkpoint.Open(TinyCheckpoints.WriteFp8Sharded(dir));
        const string name = "model.layers.0.mlp.up_proj.weight";
        var reference = bf.Get(name).View<ushort>().Span.ToArray().Select(BFloat16Codec.ToSingle).ToArray();
        var codes = f8.Get(name);
        var scales = f8.Get(name + "_scale_inv").View<float>().Span;
        var values = new float[reference.Length];
        BlockFp8.Dequantize(codes.View<byte>().Span, (int)codes.Shape[0], (int)codes.Shape[1], scales, values);
        // Same seed, same values: E4M3 keeps 3 mantissa bits (relative error ≤ 2^-4), BF16 7.
        var amax = reference.Max(MathF.Abs);
        for (var i = 0; i < values.Length; i++)
            Assert.True(MathF.Abs(values[i] - reference[i]) <= MathF.Abs(reference[i]) / 14f + amax / 448f * 0.01f, $"element {i}: {values[i]} vs {reference[i]}");
    }

    [Fact]
    public void Index_naming_a_missing_shard()
    {
        using var dir = new TempDir();
        var path = TinyCheckpoints.WriteFp8Sharded(dir);
        File.Delete(Path.Combine(path, "model-00002-of-00003.safetensors"));
        var e = Assert.Throws<CheckpointFormatException>(() => Checkpoint.Open(path));
        Assert.Contains("model-00002-of-00003.safetensors", e.Message);
        Assert.NotNull(e.Tensor);
    }

    [Fact]
    public void Index_naming_a_tensor_its_shard_lacks()
    {
        using var dir = new TempDir();
        var path = TinyCheckpoints.WriteFp8Sharded(dir);
        EditIndex(path, map => map["model.layers.0.ghost.weight"] = "model-00001-of-00003.safetensors");
        var e = Assert.Throws<CheckpointFormatException>(() => Checkpoint.Open(path));
        Assert.Equal("model.layers.0.ghost.weight", e.Tensor);
    }

    [Fact]
    public void Shard_tensor_missing_from_index()
    {
        using var dir = new TempDir();
        var path = TinyCheckpoints.WriteFp8Sharded(dir);
        EditIndex(path, map => map.Remove("model.norm.weight"));
        var e = Assert.Throws<CheckpointFormatException>(() => Checkpoint.Open(path));
        Assert.Equal("model.norm.weight", e.Tensor);
    }

    [Theory]
    [InlineData("../model-00001-of-00003.safetensors")]
    [InlineData("/etc/passwd")]
    public void Index_cannot_point_outside_the_folder(string file)
    {
        using var dir = new TempDir();
        var path = TinyCheckpoints.WriteFp8Sharded(dir);
        EditIndex(path, map => map["model.norm.weight"] = file);
        var e = Assert.Throws<CheckpointFormatException>(() => Checkpoint.Open(path));
        Assert.Contains("plain file name", e.Message);
    }

    [Fact]
    public void Malformed_index_json()
    {
        using var dir = new TempDir();
        var path = TinyCheckpoints.WriteFp8Sharded(dir);
        File.WriteAllText(Path.Combine(path, SafeTensorsIndex.FileName), "{\"weight_map\": [");
        var e = Assert.Throws<CheckpointFormatException>(() => Checkpoint.Open(path));
        Assert.EndsWith(SafeTensorsIndex.FileName, e.File);
    }

    [Fact]
    public void Fp8_weight_without_scale_inv()
    {
        using var dir = new TempDir();
        var path = dir.File("ck");
        Directory.CreateDirectory(path);
        File.WriteAllText(Path.Combine(path, "config.json"), TinyCheckpoints.TinyV3.ToJson());
        new SafeTensorsWriter().Add("model.layers.0.mlp.up_proj.weight", DType.F8_E4M3, Shape.Of(288, 160), new byte[288 * 160])
            .WriteFile(Path.Combine(path, "model.safetensors"));
        var e = Assert.Throws<CheckpointFormatException>(() => Checkpoint.Open(path));
        Assert.Equal("model.layers.0.mlp.up_proj.weight", e.Tensor);
        Assert.Contains("_scale_inv", e.Message);
    }

    [Fact]
    public void Fp8_scale_grid_of_the_wrong_shape()
    {
        using var dir = new TempDir();
        var path = dir.File("ck");
        Directory.CreateDirectory(path);
        File.WriteAllText(Path.Combine(path, "config.json"), TinyCheckpoints.TinyV3.ToJson());
        new SafeTensorsWriter().Add("w", DType.F8_E4M3, Shape.Of(288, 160), new byte[288 * 160])
            .AddF32("w_scale_inv", Shape.Of(2, 2), new float[4])
            .WriteFile(Path.Combine(path, "model.safetensors"));
        var e = Assert.Throws<CheckpointFormatException>(() => Checkpoint.Open(path));
        Assert.Equal("w_scale_inv", e.Tensor);
        Assert.Contains("[3, 2]", e.Message);
    }

    [Fact]
    public void Shape_mismatch_names_tensor_expected_and_actual()
    {
        using var dir = new TempDir();
        var path = TinyCheckpoints.WriteBf16(dir);
        // Same file, but a config whose kv_lora_rank disagrees with the stored weights.
        var lying = TinyCheckpoints.TinyV3 with { KvLoraRank = 48 };
        File.WriteAllText(Path.Combine(path, "config.json"), lying.ToJson());
        using var ckpt = Checkpoint.Open(path);
        var report = WeightReport.Check(ckpt);
        var p = Assert.Single(report.Problems, p => p.Tensor == "model.layers.0.self_attn.kv_a_layernorm.weight");
        Assert.Contains("[64]", p.Message);
        Assert.Contains("[48]", p.Message);
        var e = Assert.Throws<CheckpointFormatException>(() => WeightMap.Bind(ckpt));
        Assert.Contains("more problem", e.Message);
    }

    [Fact]
    public void Missing_and_unexpected_tensors_are_reported()
    {
        using var dir = new TempDir();
        var path = dir.File("ck");
        var w = new SafeTensorsWriter();
        var config = TinyCheckpoints.TinyV3 with { NumNextNPredictLayers = 0 };
        foreach (var t in WeightLayout.For(config).Where(t => t.Name != "model.layers.2.mlp.experts.5.down_proj.weight"))
            w.Add(t.Name, DType.BF16, t.Shape, new byte[t.Shape.ElementCount * 2]);
        w.Add("model.layers.0.self_attn.rotary_emb.inv_freq", DType.F32, Shape.Of(8), new byte[32]);
        Directory.CreateDirectory(path);
        File.WriteAllText(Path.Combine(path, "config.json"), config.ToJson());
        w.WriteFile(Path.Combine(path, "model.safetensors"));

        using var ckpt = Checkpoint.Open(path);
        var report = WeightReport.Check(ckpt);
        var missing = Assert.Single(report.Problems);
        Assert.Equal("model.layers.2.mlp.experts.5.down_proj.weight", missing.Tensor);
        Assert.Contains("missing", missing.Message);
        Assert.Equal(["model.layers.0.self_attn.rotary_emb.inv_freq"], report.Unexpected);
    }

    [Fact]
    public void Fp8_router_weight_is_a_dtype_problem()
    {
        using var dir = new TempDir();
        var path = dir.File("ck");
        var config = TinyCheckpoints.TinyV3 with { NumNextNPredictLayers = 0 };
        var w = new SafeTensorsWriter();
        foreach (var t in WeightLayout.For(config))
        {
            if (t.Name == "model.layers.1.mlp.gate.weight")
                w.AddFp8Block(t.Name, (int)t.Shape[0], (int)t.Shape[1], new float[t.Shape.ElementCount]);
            else
                w.Add(t.Name, DType.BF16, t.Shape, new byte[t.Shape.ElementCount * 2]);
        }
        Directory.CreateDirectory(path);
        File.WriteAllText(Path.Combine(path, "config.json"), config.ToJson());
        w.WriteFile(Path.Combine(path, "model.safetensors"));
        using var ckpt = Checkpoint.Open(path);
        var p = Assert.Single(WeightReport.Check(ckpt).Problems);
        Assert.Equal("model.layers.1.mlp.gate.weight", p.Tensor);
        Assert.Contains("F8_E4M3", p.Message);
    }

    [Fact]
    public void Missing_config_is_a_typed_error()
    {
        using var dir = new TempDir();
        var path = TinyCheckpoints.WriteBf16(dir);
        File.Delete(Path.Combine(path, "config.json"));
        Assert.Throws<ModelConfigException>(() => Checkpoint.Open(path));
        Assert.Throws<CheckpointFormatException>(() => Checkpoint.Open(dir.File("does-not-exist")));
    }

    private static void EditIndex(string dir, Action<JsonObject> edit)
    {
        var path = Path.Combine(dir, SafeTensorsIndex.FileName);
        var root = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        edit(root["weight_map"]!.AsObject());
        File.WriteAllText(path, root.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    }
}
