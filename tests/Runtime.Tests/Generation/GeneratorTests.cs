using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Compute.Cpu;
using DeepSeek.Runtime.Generation;
using DeepSeek.Runtime.Model;

namespace DeepSeek.Runtime.Tests.Generation;

public sealed class GeneratorTests : IDisposable
{
    private readonly Checkpoint _checkpoint = Checkpoint.Open(RepoPaths.TestData("models", "tiny-v3"));
    private readonly SafeTensorsFile _goldens = SafeTensorsFile.Open(RepoPaths.TestData("models", "tiny-v3", "goldens.safetensors"));
    // fp32 path pinned (NativeKernels = false): this test's references and tolerances are the fp32 path's.
    private readonly CpuBackend _backend = new() { NativeKernels = false };
    private readonly Transformer _model;

    public GeneratorTests() => _model = new Transformer(_backend, WeightMap.Bind(_checkpoint), 64);

    public void Dispose()
    {
        _goldens.Dispose();
        _checkpoint.Dispose();
        _backend.Dispose();
    }

    private int[] Ids(string name) => _goldens.GetView<int>(name).Span.ToArray();

    private float[] Floats(string name) => _goldens.GetView<float>(name).Span.ToArray();

    /// <summary>No EOS, so the reference's 8 greedy steps run to the end.</summary>
    private Generator NoEos(Func<ITokenTextDecoder>? text = null) => new(_model, text, eosTokenIds: []);

    private static SamplingOptions Greedy(int n) => SamplingOptions.Greedy with { MaxTokens = n };

    [Fact]
    public void Greedy_generation_reproduces_the_reference()
    {
        var result = NoEos().Complete(Ids("prompt0_ids"), Greedy(8));
        Assert.Equal(Ids("greedy0_ids"), result.Tokens);
        Assert.Equal(FinishReason.Length, result.Finish);
        Assert.Equal(40, result.PromptTokens);
    }

    [Fact]
    public void Warm_up_leaves_later_generations_unchanged()
    {
        var generator = NoEos();
        generator.WarmUp();
        Assert.Equal(Ids("greedy0_ids"), generator.Complete(Ids("prompt0_ids"), Greedy(8)).Tokens);
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        Assert.Throws<OperationCanceledException>(() => generator.WarmUp(cts.Token));
    }

    [Fact]
    public void Batched_prompts_of_different_lengths_each_reproduce_the_reference()
    {
        var requests = new[] { new GenerationRequest(Ids("prompt0_ids"), Greedy(8)), new GenerationRequest(Ids("prompt1_ids"), Greedy(8)) };
        var tokens = NoEos().Generate(requests).ToList();
        Assert.Equal(Ids("greedy0_ids"), tokens.Where(t => t.Sequence == 0).Select(t => t.TokenId));
        Assert.Equal(Ids("greedy1_ids"), tokens.Where(t => t.Sequence == 1).Select(t => t.TokenId));
        // Step order: both sequences advance together.
        Assert.Equal([0, 1, 0, 1], tokens.Take(4).Select(t => t.Sequence));
    }

    [Fact]
    public void Observed_logits_are_prompt_rows_then_one_row_per_decode_step()
    {
        // The `deepseek generate --dump-logits` contract: [P + N − 1, vocab].
        var prompt = Ids("prompt1_ids");
        var vocab = _model.VocabSize;
        var rows = new List<(int Position, float[] Row)>();
        var n = 8;
        NoEos().Generate([new GenerationRequest(prompt, Greedy(n))], (s, p, l) => rows.Add((p, l.ToArray())), observePromptLogits: true).ToList();

        Assert.Equal(prompt.Length + n - 1, rows.Count);
        Assert.Equal(Enumerable.Range(0, prompt.Length + n - 1), rows.Select(r => r.Position));
        var prefill = Floats("logits_prompt1");
        var decode = Floats("greedy1_logits");
        for (var p = 0; p < prompt.Length; p++)
            Assert.True(MaxDiff(prefill.AsSpan(p * vocab, vocab), rows[p].Row) < 1e-4f, $"prompt row {p}");
        for (var k = 1; k < n; k++)
            Assert.True(MaxDiff(decode.AsSpan(k * vocab, vocab), rows[prompt.Length - 1 + k].Row) < 1e-4f, $"decode row {k}");
    }

    [Fact]
    public void Same_seed_same_tokens_different_seed_different_tokens()
    {
        var prompt = Ids("prompt1_ids");
        var options = new SamplingOptions { Temperature = 1.5, TopP = 0.98, Seed = 42, MaxTokens = 24 };
        var a = NoEos().Complete(prompt, options).Tokens;
        var b = NoEos().Complete(prompt, options).Tokens;
        var c = NoEos().Complete(prompt, options with { Seed = 43 }).Tokens;
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
    }

    [Fact]
    public void Stop_token_ends_the_sequence_with_that_token()
    {
        var greedy = Ids("greedy0_ids");
        var stopAt = greedy[3];
        var result = NoEos().Complete(Ids("prompt0_ids"), Greedy(8) with { StopTokenIds = [stopAt] });
        Assert.Equal(FinishReason.Stop, result.Finish);
        Assert.Equal(greedy.Take(Array.IndexOf(greedy, stopAt) + 1), result.Tokens);
    }

    [Fact]
    public void Stop_strings_cut_the_text_and_finish()
    {
        // A toy detokenizer: token id i prints as "<i>" so the text is predictable.
        var greedy = Ids("greedy0_ids");
        var stop = $"<{greedy[2]}><{greedy[3]}>";
        var result = NoEos(() => new ToyText()).Complete(Ids("prompt0_ids"), Greedy(8) with { StopSequences = [stop] });
        Assert.Equal(FinishReason.Stop, result.Finish);
        Assert.Equal($"<{greedy[0]}><{greedy[1]}>", result.Text);
        Assert.Equal(4, result.Tokens.Count);
    }

    [Fact]
    public void Cancellation_between_tokens()
    {
        using var cts = new CancellationTokenSource();
        var seen = 0;
        Assert.ThrowsAny<OperationCanceledException>(() =>
        {
            foreach (var _ in NoEos().Generate([new GenerationRequest(Ids("prompt0_ids"), Greedy(8))], cancellationToken: cts.Token))
                if (++seen == 2) cts.Cancel();
        });
        Assert.Equal(2, seen);
    }

    [Fact]
    public async Task Streaming_yields_the_same_tokens()
    {
        var streamed = new List<int>();
        await foreach (var t in NoEos().GenerateAsync([new GenerationRequest(Ids("prompt0_ids"), Greedy(8))]))
            streamed.Add(t.TokenId);
        Assert.Equal(Ids("greedy0_ids"), streamed);
    }

    [Fact]
    public void Bad_requests_fail_before_any_work()
    {
        var g = NoEos();
        var prompt = Ids("prompt0_ids");
        Assert.Throws<ContextLengthException>(() => g.Generate([new GenerationRequest(prompt, Greedy(25))]));
        Assert.Throws<ContextLengthException>(() => g.Generate([new GenerationRequest(new int[64], Greedy(1))]));
        Assert.Throws<ArgumentException>(() => g.Generate([new GenerationRequest([], Greedy(1))]));
        Assert.Throws<ArgumentOutOfRangeException>(() => g.Generate([new GenerationRequest([1, 256], Greedy(1))]));
    }

    [Fact]
    public void Without_max_tokens_generation_stops_at_the_context()
    {
        var g = new Generator(_model, eosTokenIds: [], contextLength: 44);
        var result = g.Complete(Ids("prompt0_ids"), SamplingOptions.Greedy);
        Assert.Equal(4, result.Tokens.Count);
        Assert.Equal(FinishReason.Length, result.Finish);
    }

    private static float MaxDiff(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        var m = 0f;
        for (var i = 0; i < a.Length; i++) m = Math.Max(m, Math.Abs(a[i] - b[i]));
        return m;
    }

    private sealed class ToyText : ITokenTextDecoder
    {
        public string Append(int tokenId) => $"<{tokenId}>";

        public string Flush() => "";
    }
}

public sealed class GeneratorVocabularyTests
{
    [Fact]
    public void Ids_beyond_the_tokenizer_are_never_sampled()
    {
        // tiny-v3 has 256 logits; pretend the tokenizer knows only the first 40 ids.
        using var checkpoint = Checkpoint.Open(RepoPaths.TestData("models", "tiny-v3"));
        // fp32 path pinned (NativeKernels = false): this test's references and tolerances are the fp32 path's.
        using var backend = new CpuBackend { NativeKernels = false };
        var model = new Transformer(backend, WeightMap.Bind(checkpoint), 64);
        var generator = new Generator(model, eosTokenIds: [], sampleableTokens: 40);
        var options = new SamplingOptions { Temperature = 5, Seed = 3, MaxTokens = 20 };   // very flat: would hit high ids often
        var result = generator.Complete([0, 100, 200, 150], options);
        Assert.Equal(20, result.Tokens.Count);
        Assert.All(result.Tokens, id => Assert.InRange(id, 0, 39));
        Assert.Contains(new Generator(model, eosTokenIds: []).Complete([0, 100, 200, 150], options).Tokens, id => id >= 40);
    }
}
