using System.Text.Json;
using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Tests;

namespace DeepSeek.Cli.Tests.Commands;

/// <summary>`deepseek train sft` against the PyTorch reference's gradients and SGD step (tests/reference/make_gradients.py).</summary>
public sealed class TrainCommandTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private string TokensFile(SafeTensorsFile golden)
    {
        var tokens = golden.GetView<int>("tokens");
        var lines = Enumerable.Range(0, (int)tokens.Shape[0]).Select(b => JsonSerializer.Serialize(new { tokens = tokens.Row(b).Span.ToArray() }));
        var path = _dir.File("data.jsonl");
        File.WriteAllLines(path, lines);
        return path;
    }

    [Fact]
    public async Task One_sgd_step_matches_the_reference_step()
    {
        var model = RepoPaths.TestData("models", "tiny-v3");
        using var golden = SafeTensorsFile.Open(Path.Combine(model, "gradients.safetensors"));
        var lr = golden.GetView<float>("sgd_lr").Span[0];
        var outDir = _dir.File("out");
        var (exit, output, error) = await CliRun.RunAsync("train", "sft", "--model", model, "--data", TokensFile(golden), "--out", outDir,
            "--optimizer", "sgd", "--lr", lr.ToString(System.Globalization.CultureInfo.InvariantCulture), "--steps", "1", "--batch-size", "2", "--seq-len", "16",
            "--max-grad-norm", "0", "--bias-update-speed", "0", "--mtp-weight", "0", "--save-dtype", "f32");
        Assert.True(exit == 0, error);
        Assert.Contains("step 1/1", output);
        Assert.True(File.Exists(Path.Combine(outDir, "loss.svg")));

        using var before = Checkpoint.Open(model);
        using var after = Checkpoint.Open(outDir);
        var beforeMap = WeightMap.Bind(before);
        var afterMap = WeightMap.Bind(after);
        var compared = 0;
        foreach (var t in after.Tensors)
        {
            var w0 = beforeMap.Tensor(t.Name)!.ToFloatArray();
            var w1 = afterMap.Tensor(t.Name)!.ToFloatArray();
            if (!golden.TryGetInfo("grad." + t.Name, out _))
            {
                // Not reached by the main loss (MTP module with λ = 0) or not trained (router bias with γ = 0): bit-identical.
                Assert.Equal(w0, w1);
                continue;
            }
            var g = golden.GetView<float>("grad." + t.Name).Span;
            var scale = 0f;
            var worst = 0f;
            for (var i = 0; i < g.Length; i++)
            {
                scale = Math.Max(scale, Math.Abs(g[i]));
                worst = Math.Max(worst, Math.Abs((w0[i] - w1[i]) / lr - g[i]));
            }
            Assert.True(worst <= 1e-3f * scale + 1e-6f, $"{t.Name}: implied gradient off by {worst} (reference max |g| {scale})");
            compared++;
        }
        Assert.True(compared >= 80, $"only {compared} tensors had reference gradients");
    }

    [Fact]
    public async Task Adamw_training_lowers_the_loss_and_saves_a_loadable_checkpoint()
    {
        var model = RepoPaths.TestData("models", "tiny-qwen2");
        using var golden = SafeTensorsFile.Open(Path.Combine(model, "gradients.safetensors"));
        var outDir = _dir.File("sft");
        var (exit, output, error) = await CliRun.RunAsync("train", "sft", "--model", model, "--data", TokensFile(golden), "--out", outDir,
            "--lr", "0.01", "--steps", "30", "--batch-size", "2", "--seq-len", "16", "--save-dtype", "bf16");
        Assert.True(exit == 0, error);
        var log = File.ReadAllLines(Path.Combine(outDir, "training_log.jsonl")).Select(l => JsonDocument.Parse(l).RootElement.GetProperty("loss").GetDouble()).ToList();
        Assert.Equal(30, log.Count);
        Assert.True(log[^1] < log[0] / 2, $"loss {log[0]} → {log[^1]}");

        var inspect = await CliRun.RunAsync("inspect", "--model", outDir);
        Assert.Equal(0, inspect.Exit);
        Assert.Contains("BF16", inspect.Out);
        var generate = await CliRun.RunAsync("generate", "--model", outDir, "--tokens", "0,5,9", "--greedy", "--max-tokens", "3");
        Assert.Equal(0, generate.Exit);
    }

    [Fact]
    public async Task Lora_fine_tune_saves_peft_adapters_that_merge_back_to_the_same_checkpoint()
    {
        var model = RepoPaths.TestData("models", "tiny-qwen2");
        using var golden = SafeTensorsFile.Open(Path.Combine(model, "gradients.safetensors"));
        var outDir = _dir.File("lora");
        var train = await CliRun.RunAsync("train", "sft", "--model", model, "--data", TokensFile(golden), "--out", outDir,
            "--lora-rank", "4", "--lora-targets", "q_proj,o_proj", "--lora-dropout", "0.1", "--lr", "0.02", "--steps", "5", "--batch-size", "2", "--seq-len", "16", "--save-dtype", "f32");
        Assert.True(train.Exit == 0, train.Err);
        Assert.True(File.Exists(Path.Combine(outDir, "adapter", "adapter_model.safetensors")));
        using (var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "adapter", "adapter_config.json"))))
            Assert.Equal(0.1, config.RootElement.GetProperty("lora_dropout").GetDouble());

        var merged = _dir.File("merged");
        var merge = await CliRun.RunAsync("lora", "merge", "--model", model, "--adapter", Path.Combine(outDir, "adapter"), "--out", merged, "--save-dtype", "f32");
        Assert.True(merge.Exit == 0, merge.Err);
        using var a = Checkpoint.Open(outDir);
        using var b = Checkpoint.Open(merged);
        using var original = Checkpoint.Open(model);
        var changed = 0;
        foreach (var t in a.Tensors)
        {
            var x = t.Bytes.ToArray();
            Assert.Equal(x, b.Get(t.Name).Bytes.ToArray());
            var before = WeightMap.Bind(original).Tensor(t.Name)!.ToFloatArray();
            if (!before.AsSpan().SequenceEqual(WeightMap.Bind(a).Tensor(t.Name)!.ToFloatArray())) changed++;
            else Assert.False(t.Name.EndsWith("q_proj.weight", StringComparison.Ordinal) || t.Name.EndsWith("o_proj.weight", StringComparison.Ordinal), $"{t.Name} should have changed");
        }
        Assert.Equal(4, changed);   // q_proj and o_proj of the 2 layers, nothing else
    }

    [Theory]
    [InlineData("1", "--lora-rank", "4")]
    [InlineData("-0.1", "--lora-rank", "4")]
    [InlineData("0.2", "--lr", "0.01")]
    public async Task Lora_dropout_outside_0_to_1_or_without_lora_is_a_usage_error(string dropout, string flag, string value)
    {
        var model = RepoPaths.TestData("models", "tiny-qwen2");
        using var golden = SafeTensorsFile.Open(Path.Combine(model, "gradients.safetensors"));
        var (exit, _, error) = await CliRun.RunAsync("train", "sft", "--model", model, "--data", TokensFile(golden), "--out", _dir.File("bad"),
            "--lora-dropout", dropout, flag, value, "--steps", "1", "--batch-size", "2", "--seq-len", "16");
        Assert.Equal(1, exit);
        Assert.Contains("--lora-dropout", error);
        Assert.False(Directory.Exists(Path.Combine(_dir.File("bad"), "checkpoints")));
    }

    [Fact]
    public async Task Resume_continues_from_the_last_checkpoint()
    {
        var model = RepoPaths.TestData("models", "tiny-qwen2");
        using var golden = SafeTensorsFile.Open(Path.Combine(model, "gradients.safetensors"));
        var data = TokensFile(golden);
        var outDir = _dir.File("resumed");
        string[] common = ["train", "sft", "--model", model, "--data", data, "--out", outDir, "--lr", "0.01", "--batch-size", "2", "--seq-len", "16", "--save-every", "1"];
        var first = await CliRun.RunAsync([.. common, "--steps", "2"]);
        Assert.Equal(0, first.Exit);
        var second = await CliRun.RunAsync([.. common, "--steps", "4", "--resume"]);
        Assert.True(second.Exit == 0, second.Err);
        Assert.Contains("resuming from", second.Out);
        Assert.Contains("step 3/4", second.Out);
        Assert.DoesNotContain("step 1/4", second.Out);
        Assert.Equal(4, File.ReadAllLines(Path.Combine(outDir, "training_log.jsonl")).Length);
        Assert.Equal(4, Directory.GetDirectories(Path.Combine(outDir, "checkpoints"), "step-*").Length);
    }

    [Theory]
    [InlineData("{\"tokens\": [1, \"x\"]}", "data.jsonl:1")]
    [InlineData("{\"text\": \"needs a tokenizer\"}", "tokenizer")]
    [InlineData("not json", "data.jsonl:1")]
    [InlineData("{\"tokens\": [1, 99999]}", "outside the vocabulary")]
    public async Task Bad_data_is_one_clear_line(string line, string expected)
    {
        File.WriteAllText(_dir.File("data.jsonl"), line + "\n");
        var (exit, _, error) = await CliRun.RunAsync("train", "sft", "--model", RepoPaths.TestData("models", "tiny-qwen2"), "--data", _dir.File("data.jsonl"), "--out", _dir.File("o"), "--steps", "1", "--seq-len", "8");
        Assert.Equal(1, exit);
        Assert.Contains(expected, error);
        Assert.DoesNotContain("   at ", error);
        Assert.False(Directory.Exists(_dir.File("o")));
    }
}
