using System.Text.Json;
using DeepSeek.Runtime.Tests;

namespace DeepSeek.Cli.Tests.Commands;

public class TokenizeCommandTests
{
    private static string DeepSeekV3()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "tests", "TestData", "tokenizers", "deepseek-v3");
            if (Directory.Exists(candidate)) return candidate;
        }
        throw new DirectoryNotFoundException("tests/TestData/tokenizers/deepseek-v3 not found above the test binaries");
    }

    // Ids from Hugging Face's Rust tokenizer (tests/TestData/tokenizers/deepseek-v3/vectors.json).
    private const string HelloWorldIds = "19923,14,2058,3";

    [Fact]
    public async Task Prints_ids_comma_separated_on_one_line()
    {
        var (exit, output, error) = await CliRun.RunAsync("tokenize", "--model", DeepSeekV3(), "--text", "Hello, world!");
        Assert.Equal(0, exit);
        Assert.Empty(error);
        Assert.Equal(HelloWorldIds + Environment.NewLine, output);
    }

    [Fact]
    public async Task Recognises_special_token_text_and_adds_bos_only_when_asked()
    {
        var dir = DeepSeekV3();
        var (_, plain, _) = await CliRun.RunAsync("tokenize", "--model", dir, "--text", "<｜User｜>Hi");
        var (exit, withBos, _) = await CliRun.RunAsync("tokenize", "--model", dir, "--text", "<｜User｜>Hi", "--bos");
        Assert.Equal(0, exit);
        Assert.StartsWith("128803,", plain.Trim());
        Assert.Equal("0," + plain.Trim(), withBos.Trim());
    }

    [Fact]
    public async Task Json_output_has_ids_and_tokens()
    {
        var (exit, output, _) = await CliRun.RunAsync("tokenize", "--model", DeepSeekV3(), "--text", "Hello, world!", "--json");
        Assert.Equal(0, exit);
        using var doc = JsonDocument.Parse(output);
        Assert.Equal(HelloWorldIds, string.Join(",", doc.RootElement.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32())));
        Assert.Equal(["Hello", ",", "Ġworld", "!"], doc.RootElement.GetProperty("tokens").EnumerateArray().Select(e => e.GetString()!).ToArray());
    }

    [Fact]
    public async Task Decode_prints_the_text()
    {
        var (exit, output, error) = await CliRun.RunAsync("tokenize", "--model", DeepSeekV3(), "--decode", HelloWorldIds);
        Assert.Equal(0, exit);
        Assert.Empty(error);
        Assert.Equal("Hello, world!" + Environment.NewLine, output);
    }

    [Theory]
    [InlineData("19923,999999")]
    [InlineData("-1")]
    [InlineData("12,abc")]
    public async Task Bad_ids_exit_1_with_one_error_line(string ids)
    {
        var (exit, output, error) = await CliRun.RunAsync("tokenize", "--model", DeepSeekV3(), "--decode", ids);
        Assert.Equal(1, exit);
        Assert.Empty(output);
        var lines = error.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.StartsWith("error: ", lines[0]);
    }

    [Fact]
    public async Task Malformed_tokenizer_json_is_one_error_line_naming_the_key()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("tokenizer.json"), """{"model":{"type":"WordPiece","vocab":{}}}""");
        var (exit, _, error) = await CliRun.RunAsync("tokenize", "--model", dir.Path, "--text", "hi");
        Assert.Equal(1, exit);
        Assert.StartsWith("error: ", error);
        Assert.Contains("model.type", error);
        Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public async Task Missing_tokenizer_is_an_error()
    {
        using var dir = new TempDir();
        var (exit, _, error) = await CliRun.RunAsync("tokenize", "--model", dir.Path, "--text", "hi");
        Assert.Equal(1, exit);
        Assert.Contains("tokenizer.json", error);
    }
}
