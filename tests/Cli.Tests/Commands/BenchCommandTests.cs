using System.Text.Json;
using DeepSeek.Runtime.Tests;

namespace DeepSeek.Cli.Tests.Commands;

/// <summary>The `deepseek bench` contract: its JSON keys and their sanity, and bad input as one error line (timings are never asserted).</summary>
public sealed class BenchCommandTests
{
    private static readonly string Model = RepoPaths.TestData("models", "tiny-v3");

    private static readonly string[] Keys =
        ["prefill_tokens_per_s", "decode_tokens_per_s", "bandwidth_gbs", "peak_gflops", "decode_roofline_fraction", "prefill_roofline_fraction"];

    private static readonly string[] Small = ["--prompt-tokens", "8", "--gen-tokens", "6", "--probe-ms", "20", "--json"];

    [Fact]
    public async Task Json_has_the_roofline_keys_with_positive_values()
    {
        var (exit, output, error) = await CliRun.RunAsync(["bench", "--model", Model, "--threads", "1", .. Small]);
        Assert.True(exit == 0, error);
        using var doc = JsonDocument.Parse(output);
        var root = doc.RootElement;
        foreach (var key in Keys)
        {
            var value = root.GetProperty(key).GetDouble();
            Assert.True(double.IsFinite(value) && value > 0, $"{key} = {value}");
        }
        Assert.Equal(1, root.GetProperty("threads").GetInt32());
        Assert.Equal(1, root.GetProperty("batch").GetInt32());
        Assert.Equal(8, root.GetProperty("prompt_tokens").GetInt32());
        // The hand-counted bytes of tiny-v3 at batch 1 (see ModelCostTests): 187,808 + 49,152 + 32,768 + 128.
        Assert.Equal(269_856, root.GetProperty("bytes_per_token").GetDouble());
        Assert.False(root.TryGetProperty("speedup", out _));
        Assert.False(root.TryGetProperty("mtp_acceptance_rate", out _));
    }

    [Fact]
    public async Task Speculative_mtp_adds_acceptance_and_speedup()
    {
        var (exit, output, error) = await CliRun.RunAsync(["bench", "--model", Model, "--speculative", "mtp", "--batch", "2", .. Small]);
        Assert.True(exit == 0, error);
        using var doc = JsonDocument.Parse(output);
        var root = doc.RootElement;
        foreach (var key in Keys) Assert.True(root.GetProperty(key).GetDouble() > 0, key);
        Assert.InRange(root.GetProperty("mtp_acceptance_rate").GetDouble(), 0, 1);
        Assert.True(root.GetProperty("speedup").GetDouble() > 0);
        Assert.True(root.GetProperty("mtp_decode_tokens_per_s").GetDouble() > 0);
        var drafted = root.GetProperty("mtp_drafted_tokens").GetInt32();
        // Two sequences of 6 tokens: each verifies at most one draft per token after the first.
        Assert.InRange(drafted, 1, 2 * 5);
        Assert.InRange(root.GetProperty("mtp_accepted_tokens").GetInt32(), 0, drafted);
        var ratio = root.GetProperty("mtp_step_cost_ratio").GetDouble();
        Assert.True(ratio > 0);
        Assert.Equal(2 / ratio, root.GetProperty("mtp_speedup_at_full_acceptance").GetDouble(), 0.01);
        // A batch of two shares every weight and reads the union of the experts: more bytes per step than one token, fewer than two.
        var perToken = root.GetProperty("bytes_per_token").GetDouble();
        Assert.InRange(root.GetProperty("bytes_per_step").GetDouble(), perToken + 1, 2 * perToken - 1);
    }

    [Fact]
    public async Task Plain_text_output_lists_the_figures()
    {
        var (exit, output, error) = await CliRun.RunAsync("bench", "--model", Model, "--prompt-tokens", "4", "--gen-tokens", "3", "--probe-ms", "10");
        Assert.True(exit == 0, error);
        foreach (var key in Keys) Assert.Contains(key, output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Without_a_model_it_benchmarks_the_embedded_model_with_mtp()
    {
        var (exit, output, error) = await CliRun.RunAsync("bench", "--prompt-tokens", "8", "--gen-tokens", "8", "--probe-ms", "10", "--speculative", "mtp", "--json");
        Assert.True(exit == 0, error);
        using var doc = System.Text.Json.JsonDocument.Parse(output);
        Assert.Equal(DeepSeek.Runtime.Hosting.EmbeddedModel.GetPath(), doc.RootElement.GetProperty("model").GetString());
        Assert.InRange(doc.RootElement.GetProperty("mtp_acceptance_rate").GetDouble(), 0, 1);
        Assert.True(doc.RootElement.GetProperty("speedup").GetDouble() > 0);
    }

    [Fact]
    public async Task Task_arithmetic_measures_mtp_on_chat_rendered_questions()
    {
        var (exit, output, error) = await CliRun.RunAsync("bench", "--task", "arithmetic", "--problems", "3", "--gen-tokens", "300", "--probe-ms", "10", "--speculative", "mtp", "--json");
        Assert.True(exit == 0, error);
        using var doc = JsonDocument.Parse(output);
        var root = doc.RootElement;
        foreach (var key in Keys) Assert.True(root.GetProperty(key).GetDouble() > 0, key);
        // A rendered question (chat markup included) is longer than a handful of tokens, and --prompt-tokens is not used.
        Assert.True(root.GetProperty("prompt_tokens").GetInt32() > 8);
        // Answers end at EOS, well before the 300-token cap; the shipped model's trained head drafts them well.
        Assert.InRange(root.GetProperty("decode_tokens").GetInt32(), 3, 3 * 299 - 1);
        Assert.InRange(root.GetProperty("mtp_acceptance_rate").GetDouble(), 0.5, 1);
        Assert.True(root.GetProperty("speedup").GetDouble() > 0);
    }

    [Theory]
    [InlineData("--task must be random or arithmetic", "bench", "--model", "MODEL", "--task", "words")]
    [InlineData("does-not-exist", "bench", "--model", "does-not-exist")]
    [InlineData("--gen-tokens must be at least 2", "bench", "--model", "MODEL", "--gen-tokens", "1")]
    [InlineData("--prompt-tokens must be at least 1", "bench", "--model", "MODEL", "--prompt-tokens", "0")]
    [InlineData("--batch must be at least 1", "bench", "--model", "MODEL", "--batch", "0")]
    [InlineData("--problems must be at least 1", "bench", "--model", "MODEL", "--task", "arithmetic", "--problems", "0")]
    [InlineData("exceeds the model's 64 positions", "bench", "--model", "MODEL", "--prompt-tokens", "60", "--gen-tokens", "8")]
    [InlineData("no MTP layer", "bench", "--model", "QWEN", "--speculative", "mtp")]
    [InlineData("--speculative must be none or mtp", "bench", "--model", "MODEL", "--speculative", "eagle")]
    public async Task Bad_input_is_one_error_line_and_exit_1(string expected, params string[] args)
    {
        args = [.. args.Select(a => a switch { "MODEL" => Model, "QWEN" => RepoPaths.TestData("models", "tiny-qwen2"), _ => a })];
        var (exit, output, error) = await CliRun.RunAsync(args);
        Assert.Equal(1, exit);
        Assert.Equal("", output);
        var line = Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("error: ", line, StringComparison.Ordinal);
        Assert.Contains(expected, line, StringComparison.Ordinal);
    }
}
