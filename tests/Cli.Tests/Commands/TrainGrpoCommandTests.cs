using System.Text.Json;
using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Tests;

namespace DeepSeek.Cli.Tests.Commands;

/// <summary>`deepseek train grpo` plumbing (the library's GRPO test shows the reward rising).</summary>
public sealed class TrainGrpoCommandTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private string Prompts(params string[] lines)
    {
        File.WriteAllLines(_dir.File("prompts.jsonl"), lines);
        return _dir.File("prompts.jsonl");
    }

    [Fact]
    public async Task Runs_steps_logs_rewards_and_saves_a_loadable_checkpoint()
    {
        var model = RepoPaths.TestData("models", "tiny-qwen2");
        var outDir = _dir.File("out");
        var (exit, output, error) = await CliRun.RunAsync("train", "grpo", "--model", model, "--out", outDir,
            "--prompts", Prompts("{\"tokens\":[0,5,9]}", "{\"tokens\":[0,7,200,31]}"), "--reward", "length-penalty",
            "--group-size", "4", "--prompts-per-step", "2", "--max-completion-tokens", "6", "--steps", "2", "--lr", "1e-3", "--save-dtype", "f32");
        Assert.True(exit == 0, error);
        Assert.Contains("step 2/2  reward", output);
        var log = File.ReadAllLines(Path.Combine(outDir, "training_log.jsonl")).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(2, log.Count);
        Assert.All(log, l => Assert.InRange(l.GetProperty("completion_length").GetDouble(), 1, 6));
        Assert.True(File.Exists(Path.Combine(outDir, "reward.svg")));
        using var trained = Checkpoint.Open(outDir);
        Assert.True(WeightReport.Check(trained).IsValid);
    }

    [Fact]
    public async Task Resume_continues_from_the_last_checkpoint()
    {
        string[] common = ["train", "grpo", "--model", RepoPaths.TestData("models", "tiny-qwen2"), "--out", _dir.File("r"),
            "--prompts", Prompts("{\"tokens\":[0,5,9]}", "{\"tokens\":[0,7,200]}"), "--reward", "length-penalty",
            "--group-size", "2", "--prompts-per-step", "1", "--max-completion-tokens", "4", "--lr", "1e-3", "--save-every", "1"];
        Assert.Equal(0, (await CliRun.RunAsync([.. common, "--steps", "2"])).Exit);
        var second = await CliRun.RunAsync([.. common, "--steps", "3", "--resume"]);
        Assert.True(second.Exit == 0, second.Err);
        Assert.Contains("resuming from", second.Out);
        Assert.Contains("step 3/3", second.Out);
        Assert.DoesNotContain("step 1/3", second.Out);
    }

    [Theory]
    [InlineData("no-such-reward", "unknown reward")]
    [InlineData("exact-number", "tokenizer.json")]
    [InlineData("think-format", "tokenizer.json")]
    public async Task Bad_rewards_are_one_clear_line(string reward, string expected)
    {
        var (exit, _, error) = await CliRun.RunAsync("train", "grpo", "--model", RepoPaths.TestData("models", "tiny-qwen2"), "--out", _dir.File("o"),
            "--prompts", Prompts("{\"tokens\":[0,5],\"answer\":\"3\"}"), "--reward", reward, "--steps", "1");
        Assert.Equal(1, exit);
        Assert.Contains(expected, error);
        Assert.DoesNotContain("   at ", error);
    }
}
