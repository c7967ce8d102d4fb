using System.Text.Json;
using DeepSeek.Runtime.Hosting;

namespace DeepSeek.Cli.Tests.Commands;

/// <summary><c>deepseek eval</c> and <c>deepseek chat</c> on the embedded model, which needs no <c>--model</c>.</summary>
public sealed class EvalCommandTests
{
    [Fact]
    public async Task Eval_of_the_embedded_model_prints_the_contract_keys()
    {
        var (exit, output, error) = await CliRun.RunAsync("eval", "--task", "arithmetic", "--n", "24", "--max-digits", "2", "--json");
        Assert.True(exit == 0, error);
        using var doc = JsonDocument.Parse(output);
        var r = doc.RootElement;
        Assert.Equal(24, r.GetProperty("n").GetInt32());
        Assert.InRange(r.GetProperty("accuracy").GetDouble(), 0.5, 1.0);
        Assert.InRange(r.GetProperty("format_accuracy").GetDouble(), 0.9, 1.0);
        Assert.InRange(r.GetProperty("mean_length").GetDouble(), 10, 200);
        Assert.Equal(EmbeddedModel.GetPath(), r.GetProperty("model").GetString());
        // Two MoE layers, 8 experts each, every layer's shares summing to one.
        var load = r.GetProperty("expert_load").EnumerateObject().ToList();
        Assert.Equal(2, load.Count);
        Assert.All(load, l => Assert.Equal(1.0, l.Value.EnumerateArray().Sum(x => x.GetDouble()), 6));
        Assert.InRange(r.GetProperty("expert_imbalance").GetDouble(), 1.0, 4.0);
    }

    [Theory]
    [InlineData("--task", "poetry")]
    [InlineData("--task", "arithmetic", "--n", "0")]
    [InlineData("--task", "arithmetic", "--split", "test")]
    [InlineData("--task", "arithmetic", "--max-digits", "16")]
    [InlineData("--task", "arithmetic", "--model", "/no/such/model")]
    public async Task Bad_arguments_are_one_error_line(params string[] args)
    {
        var (exit, _, error) = await CliRun.RunAsync(["eval", .. args]);
        Assert.Equal(1, exit);
        Assert.StartsWith("error: ", error, StringComparison.Ordinal);
        Assert.Single(error.TrimEnd().Split('\n'));
    }

    [Fact]
    public async Task Chat_without_a_model_answers_from_the_embedded_reasoner()
    {
        var (exit, output, error) = await CliRun.RunAsync("chat", "--temperature", "0", "What is 482 + 93?");
        Assert.True(exit == 0, error);
        Assert.Contains("575", output, StringComparison.Ordinal);
        Assert.Contains("+=575", error, StringComparison.Ordinal); // the <think> trace goes to stderr
    }
}
