using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Compute;
using DeepSeek.Runtime.Generation;
using DeepSeek.Runtime.Model;
using DeepSeek.Runtime.Tokenization;

namespace DeepSeek.Runtime.Evaluation;

/// <summary>Accuracy of a model on a set of arithmetic problems, overall and by problem length and operation.</summary>
/// <param name="Problems">Problems evaluated.</param>
/// <param name="Accuracy">Fraction whose final answer is exactly right.</param>
/// <param name="FormatAccuracy">Fraction whose completion closes its reasoning and then answers.</param>
/// <param name="MeanLength">Mean completion length in tokens (the end-of-sentence token included).</param>
/// <param name="ByLength">Accuracy by the larger operand's digit count.</param>
/// <param name="ByOperation">Accuracy by operation.</param>
/// <param name="Speculation">MTP drafts verified and accepted over all completions (zero without an MTP layer).</param>
public sealed record ArithmeticEvaluation(
    int Problems,
    double Accuracy,
    double FormatAccuracy,
    double MeanLength,
    IReadOnlyDictionary<int, double> ByLength,
    IReadOnlyDictionary<ArithmeticOperation, double> ByOperation,
    SpeculationStats Speculation);

/// <summary>
/// Runs the arithmetic task through the same path a chat user takes — chat template, tokenizer, batched greedy
/// generation — and grades every completion with <see cref="ArithmeticTask.Grade"/>.
/// </summary>
public sealed class ArithmeticEvaluator
{
    private readonly Transformer _model;
    private readonly BpeTokenizer _tokenizer;
    private readonly IChatFormat _chat;
    private readonly int[] _eos;

    /// <summary>Evaluates <paramref name="model"/> with its tokenizer and chat format.</summary>
    public ArithmeticEvaluator(Transformer model, BpeTokenizer tokenizer, IChatFormat chatFormat)
    {
        _model = model ?? throw new ArgumentNullException(nameof(model));
        _tokenizer = tokenizer ?? throw new ArgumentNullException(nameof(tokenizer));
        _chat = chatFormat ?? throw new ArgumentNullException(nameof(chatFormat));
        _eos = [.. model.Config.EosTokenIds];
    }

    /// <summary>
    /// An evaluator for the checkpoint in <paramref name="directory"/> whose weights <paramref name="weights"/> are bound:
    /// its <c>tokenizer.json</c> and chat template, and a transformer of up to <paramref name="maxPositions"/> positions
    /// (capped to the config's) on <paramref name="backend"/>.
    /// </summary>
    /// <exception cref="FileNotFoundException">The folder has no <c>tokenizer.json</c>.</exception>
    public static ArithmeticEvaluator Open(IComputeBackend backend, WeightMap weights, string directory, int maxPositions = 1024)
    {
        ArgumentNullException.ThrowIfNull(weights);
        ArgumentNullException.ThrowIfNull(directory);
        var tokenizerPath = Path.Combine(directory, "tokenizer.json");
        if (!File.Exists(tokenizerPath))
            throw new FileNotFoundException($"'{directory}' has no tokenizer.json: the arithmetic task renders questions through the model's tokenizer", tokenizerPath);
        var model = new Transformer(backend, weights, Math.Min(maxPositions, weights.Config.MaxPositionEmbeddings));
        return new ArithmeticEvaluator(model, BpeTokenizer.FromDirectory(directory), ChatFormats.FromTokenizerConfig(directory));
    }

    /// <summary>The model evaluated.</summary>
    public Transformer Model => _model;

    /// <summary>The model's tokenizer.</summary>
    public BpeTokenizer Tokenizer => _tokenizer;

    /// <summary>Most tokens a completion may take before it counts as unfinished (and wrong).</summary>
    public int MaxCompletionTokens { get; init; } = 320;

    /// <summary>Problems generated together in one batch (weights are read once per step for all of them).</summary>
    public int BatchSize { get; init; } = 32;

    /// <summary>The prompt tokens for a question, exactly as a chat user's question is rendered.</summary>
    public int[] Prompt(string question) => Prompt(_tokenizer, _chat, question);

    /// <summary>The prompt tokens for a question, exactly as a chat user's question is rendered (no model needed).</summary>
    public static int[] Prompt(BpeTokenizer tokenizer, IChatFormat chatFormat, string question)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentNullException.ThrowIfNull(chatFormat);
        return [.. tokenizer.Encode(chatFormat.Render([ChatMessage.User(question)], new ChatRenderOptions { AddGenerationPrompt = true }), addSpecialTokens: false)];
    }

    /// <summary>Greedy completions of every problem (in order), as text without special tokens, with their token counts.</summary>
    public IReadOnlyList<(string Text, int Tokens)> Complete(IReadOnlyList<ArithmeticProblem> problems, IProgress<int>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(problems);
        return Complete([.. problems.Select(p => p.Question)], progress, cancellationToken);
    }

    /// <summary>Greedy completions of every question (in order), as text without special tokens, with their token counts.</summary>
    public IReadOnlyList<(string Text, int Tokens)> Complete(IReadOnlyList<string> questions, IProgress<int>? progress = null, CancellationToken cancellationToken = default) =>
        Complete(questions, progress, out _, cancellationToken);

    private (string Text, int Tokens)[] Complete(IReadOnlyList<string> questions, IProgress<int>? progress, out SpeculationStats speculation, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(questions);
        speculation = default;
        var generator = new Generator(_model, () => new TokenizerTextDecoder(_tokenizer, skipSpecialTokens: true), _eos, sampleableTokens: _tokenizer.VocabSize);
        var results = new (string, int)[questions.Count];
        var options = SamplingOptions.Greedy with { MaxTokens = MaxCompletionTokens };
        for (var start = 0; start < questions.Count; start += BatchSize)
        {
            var n = Math.Min(BatchSize, questions.Count - start);
            var requests = new GenerationRequest[n];
            for (var i = 0; i < n; i++) requests[i] = new GenerationRequest(Prompt(questions[start + i]), options);
            var texts = new System.Text.StringBuilder[n];
            var counts = new int[n];
            var drafts = new SpeculationStats[n];
            for (var i = 0; i < n; i++) texts[i] = new System.Text.StringBuilder();
            foreach (var t in generator.Generate(requests, cancellationToken: cancellationToken))
            {
                texts[t.Sequence].Append(t.Text);
                counts[t.Sequence]++;
                drafts[t.Sequence] = t.Speculation; // cumulative per sequence
            }
            for (var i = 0; i < n; i++)
            {
                results[start + i] = (texts[i].ToString(), counts[i]);
                speculation += drafts[i];
            }
            progress?.Report(start + n);
        }
        return results;
    }

    /// <summary>Evaluates <paramref name="problems"/> (greedy, so the result is deterministic).</summary>
    public ArithmeticEvaluation Evaluate(IReadOnlyList<ArithmeticProblem> problems, IProgress<int>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(problems);
        if (problems.Count == 0) throw new ArgumentException("no problems to evaluate", nameof(problems));
        var completions = Complete([.. problems.Select(p => p.Question)], progress, out var speculation, cancellationToken);
        var correct = 0;
        var formatted = 0;
        long tokens = 0;
        var byLength = new SortedDictionary<int, (int Right, int All)>();
        var byOp = new SortedDictionary<ArithmeticOperation, (int Right, int All)>();
        for (var i = 0; i < problems.Count; i++)
        {
            var (right, wellFormed) = ArithmeticTask.Grade(problems[i], completions[i].Text);
            if (right) correct++;
            if (wellFormed) formatted++;
            tokens += completions[i].Tokens;
            Count(byLength, problems[i].Length, right);
            Count(byOp, problems[i].Operation, right);
        }
        return new ArithmeticEvaluation(problems.Count, (double)correct / problems.Count, (double)formatted / problems.Count, (double)tokens / problems.Count,
            byLength.ToDictionary(kv => kv.Key, kv => (double)kv.Value.Right / kv.Value.All),
            byOp.ToDictionary(kv => kv.Key, kv => (double)kv.Value.Right / kv.Value.All), speculation);
    }

    private static void Count<TKey>(SortedDictionary<TKey, (int Right, int All)> table, TKey key, bool right) where TKey : notnull
    {
        table.TryGetValue(key, out var c);
        table[key] = (c.Right + (right ? 1 : 0), c.All + 1);
    }
}
