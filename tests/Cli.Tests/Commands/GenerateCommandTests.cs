using System.Text.Json;
using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Tensors;
using DeepSeek.Runtime.Tests;

namespace DeepSeek.Cli.Tests.Commands;

/// <summary>The `deepseek generate` contract, checked against the PyTorch reference's goldens for tiny-v3.</summary>
public sealed class GenerateCommandTests : IDisposable
{
    private static readonly string Model = RepoPaths.TestData("models", "tiny-v3");
    private readonly SafeTensorsFile _goldens = SafeTensorsFile.Open(Path.Combine(Model, "goldens.safetensors"));
    private readonly TempDir _dir = new();

    public void Dispose()
    {
        _goldens.Dispose();
        _dir.Dispose();
    }

    private int[] Ids(string name) => _goldens.GetView<int>(name).Span.ToArray();

    private float[] Floats(string name) => _goldens.GetView<float>(name).Span.ToArray();

    /// <summary>The reference ran 8 greedy steps without EOS; the CLI stops at the config's EOS (id 1).</summary>
    private int[] ExpectedGreedy(int b)
    {
        var ids = Ids($"greedy{b}_ids");
        var eos = Array.IndexOf(ids, 1);
        return eos < 0 ? ids : ids[..(eos + 1)];
    }

    [Theory]
    [InlineData("absorbed")]
    [InlineData("plain")]
    public async Task Greedy_json_tokens_and_logit_dumps_match_the_reference(string mla)
    {
        var prompt = Ids("prompt0_ids");
        var logitsFile = _dir.File("logits.npy");
        var mtpFile = _dir.File("mtp.npy");
        // --fp32: the goldens and this tolerance are fp32's; the native bf16 path has its own golden test (Runtime.Tests).
        var (exit, output, error) = await CliRun.RunAsync("generate", "--model", Model, "--tokens", string.Join(",", prompt), "--greedy",
            "--max-tokens", "8", "--mla", mla, "--json", "--fp32", "--dump-logits", logitsFile, "--dump-mtp-logits", mtpFile);
        Assert.True(exit == 0, error);

        using var doc = JsonDocument.Parse(output);
        var tokens = doc.RootElement.GetProperty("tokens").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        var expected = ExpectedGreedy(0);
        Assert.Equal(expected, tokens);
        Assert.Equal(JsonValueKind.Null, doc.RootElement.GetProperty("text").ValueKind);

        var (logits, shape) = NpyFile.ReadFloat32(logitsFile);
        const int vocab = 256;
        Assert.Equal([prompt.Length + tokens.Length - 1, vocab], shape);
        AssertClose(Floats("logits_prompt0"), logits.AsSpan(0, prompt.Length * vocab));
        var greedyLogits = Floats("greedy0_logits");
        AssertClose(greedyLogits.AsSpan(vocab, (tokens.Length - 1) * vocab), logits.AsSpan(prompt.Length * vocab));

        var (mtp, mtpShape) = NpyFile.ReadFloat32(mtpFile);
        Assert.Equal([prompt.Length, vocab], mtpShape);
        AssertClose(Floats("mtp_logits_prompt0"), mtp);
    }

    [Fact]
    public async Task Plain_output_prints_the_ids_without_a_tokenizer()
    {
        var (exit, output, _) = await CliRun.RunAsync("generate", "--model", Model, "--tokens", string.Join(",", Ids("prompt1_ids")), "--greedy", "--max-tokens", "8");
        Assert.Equal(0, exit);
        Assert.Equal(string.Join(",", ExpectedGreedy(1)), output.Trim());
    }

    [Fact]
    public async Task Same_seed_same_tokens()
    {
        string[] args = ["generate", "--model", Model, "--tokens", "0,7,9,200", "--temperature", "1.3", "--seed", "5", "--max-tokens", "12", "--json"];
        var a = await CliRun.RunAsync(args);
        var b = await CliRun.RunAsync(args);
        Assert.Equal(0, a.Exit);
        Assert.Equal(JsonDocument.Parse(a.Out).RootElement.GetProperty("tokens").ToString(), JsonDocument.Parse(b.Out).RootElement.GetProperty("tokens").ToString());
    }

    [Theory]
    [InlineData("token id 256 outside the vocabulary", "--tokens", "0,256")]
    [InlineData("not an integer token id", "--tokens", "0,x")]
    [InlineData("exceeds the 8-token context", "--tokens", "0,1,2,3,4,5", "--context", "8", "--max-tokens", "4")]
    [InlineData("has no tokenizer.json", "--prompt", "hello")]
    [InlineData("exactly one of --prompt and --tokens", "--prompt", "hello", "--tokens", "1")]
    [InlineData("the prompt is empty", "--tokens", ",")]
    public async Task Bad_input_is_one_clear_line(string expected, params string[] args)
    {
        var (exit, output, error) = await CliRun.RunAsync(["generate", "--model", Model, .. args]);
        Assert.NotEqual(0, exit);
        Assert.Contains(expected, error);
        Assert.DoesNotContain("   at ", error);
        Assert.Equal("", output.Trim());
    }

    [Fact]
    public async Task Check_weights_finds_a_nan_and_names_the_tensor()
    {
        var copy = _dir.File("nan");
        Directory.CreateDirectory(copy);
        foreach (var f in Directory.GetFiles(Model)) File.Copy(f, Path.Combine(copy, Path.GetFileName(f)));
        const string victim = "model.layers.1.mlp.experts.3.up_proj.weight";
        long offset;
        using (var ckpt = Checkpoint.Open(copy)) offset = ckpt.Get(victim).Info.FileOffset + 2 * 17;
        using (var stream = new FileStream(Path.Combine(copy, "model.safetensors"), FileMode.Open))
        {
            stream.Position = offset;
            stream.Write([0xC0, 0x7F]); // BF16 quiet NaN, little-endian
        }

        var fine = await CliRun.RunAsync("generate", "--model", copy, "--tokens", "0,5", "--greedy", "--max-tokens", "1");
        Assert.Equal(0, fine.Exit); // without the scan the NaN is not looked for
        var (exit, _, error) = await CliRun.RunAsync("generate", "--model", copy, "--tokens", "0,5", "--check-weights");
        Assert.Equal(1, exit);
        Assert.Contains(victim, error);
        Assert.Contains("element 17", error);
    }

    private static void AssertClose(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (var i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-4f, $"element {i}: {expected[i]} vs {actual[i]}");
    }
}
