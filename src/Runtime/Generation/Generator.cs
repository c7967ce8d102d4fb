using System.Runtime.CompilerServices;
using System.Text;
using DeepSeek.Runtime.Model;

namespace DeepSeek.Runtime.Generation;

/// <summary>
/// Generates from a <see cref="Transformer"/>: one batched prefill over every prompt (different lengths), then
/// decode steps that run all unfinished sequences together, each at its own position in the KV cache — a static batch,
/// the case of the step loop (<see cref="DecodeBatch"/>) where every sequence joins before the first step; a
/// <see cref="BatchScheduler"/> runs the same loop with sequences joining and leaving between steps. Each
/// sequence has its own sampler (seeded ⇒ reproducible), penalties, stop ids, stop strings and token limit.
/// Cancellation is checked between tokens. Thread-safe: concurrent calls use separate caches.
/// With an MTP module (and <see cref="SpeculativeDecoding"/> not <c>None</c>) decode steps are speculative: the MTP head
/// drafts the token after next and the main model verifies it in the same forward pass as the next token, so an accepted
/// draft yields two tokens per main-model step; greedy output is identical to plain decoding and sampled output has the
/// same distribution (see <see cref="SpeculativeSampling"/>).
/// </summary>
public sealed partial class Generator
{
    private readonly Transformer _model;
    private readonly Func<ITokenTextDecoder>? _textDecoder;
    private readonly int[] _eos;
    private KvCache? _idleCache;

    /// <summary>
    /// Creates a generator. <paramref name="textDecoder"/> enables text output and stop strings;
    /// <paramref name="eosTokenIds"/> always stop (defaults to the config's <c>eos_token_id</c>).
    /// <paramref name="sampleableTokens"/> limits sampling to ids below it: checkpoints pad <c>vocab_size</c> past the
    /// tokenizer (V3: 129,280 rows for 128,815 tokens), and an id no tokenizer can decode must never be produced.
    /// <paramref name="speculative"/> chooses MTP speculative decoding (<see cref="SpeculativeDecoding.Auto"/>: on when the
    /// model has an MTP module).
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="speculative"/> is <see cref="SpeculativeDecoding.Mtp"/> but the model has no MTP module.</exception>
    public Generator(Transformer model, Func<ITokenTextDecoder>? textDecoder = null, IEnumerable<int>? eosTokenIds = null, int? contextLength = null, int? sampleableTokens = null,
        SpeculativeDecoding speculative = SpeculativeDecoding.Auto)
    {
        _model = model ?? throw new ArgumentNullException(nameof(model));
        _textDecoder = textDecoder;
        _eos = [.. eosTokenIds ?? model.Config.EosTokenIds];
        ContextLength = contextLength ?? model.MaxPositions;
        SampleableTokens = Math.Min(sampleableTokens ?? model.VocabSize, model.VocabSize);
        ArgumentOutOfRangeException.ThrowIfLessThan(SampleableTokens, 1, nameof(sampleableTokens));
        ArgumentOutOfRangeException.ThrowIfLessThan(ContextLength, 2);
        if (ContextLength > model.MaxPositions)
            throw new ArgumentOutOfRangeException(nameof(contextLength), $"context {ContextLength} exceeds the model instance's {model.MaxPositions} positions");
        if (!Enum.IsDefined(speculative)) throw new ArgumentOutOfRangeException(nameof(speculative), speculative, "unknown speculative decoding mode");
        if (speculative == SpeculativeDecoding.Mtp && model.Mtp.Count == 0)
            throw new ArgumentException($"speculative decoding with MTP needs an MTP module; this model has none (num_nextn_predict_layers = {model.Config.NumNextNPredictLayers})", nameof(speculative));
        Speculative = speculative;
        UsesMtp = speculative != SpeculativeDecoding.None && model.Mtp.Count > 0;
    }

    /// <summary>Drafts judged before <see cref="SpeculativeDecoding.Auto"/> decides whether drafting pays off for a sequence.</summary>
    public const int AutoProbeDrafts = 32;

    /// <summary>
    /// Acceptance below which <see cref="SpeculativeDecoding.Auto"/> stops drafting for a sequence. A step with a draft runs
    /// two rows through the main model plus up to two through the MTP module and yields 1 + acceptance tokens, so on a
    /// bandwidth-bound model drafting pays from low acceptance on; this threshold keeps clearly useless drafting off.
    /// </summary>
    public const double AutoMinAcceptance = 0.3;

    /// <summary>The requested speculative decoding mode.</summary>
    public SpeculativeDecoding Speculative { get; }

    /// <summary>True when decode steps draft with the MTP module (the mode is not <c>None</c> and the model has one).</summary>
    public bool UsesMtp { get; }

    /// <summary>Most tokens (prompt + generated) a sequence may hold.</summary>
    public int ContextLength { get; }

    /// <summary>Ids at or above this are never sampled (the tokenizer's size when it is smaller than the model's vocabulary).</summary>
    public int SampleableTokens { get; }

    /// <summary>Generates one sequence to the end and returns everything at once.</summary>
    public GenerationResult Complete(IReadOnlyList<int> prompt, SamplingOptions options, CancellationToken cancellationToken = default)
    {
        var tokens = new List<int>();
        var text = _textDecoder is null ? null : new StringBuilder();
        var finish = FinishReason.Length;
        var speculation = default(SpeculationStats);
        foreach (var t in Generate([new GenerationRequest(prompt, options)], cancellationToken: cancellationToken))
        {
            tokens.Add(t.TokenId);
            text?.Append(t.Text);
            if (t.Finish is { } f) finish = f;
            speculation = t.Speculation;
        }
        return new GenerationResult(tokens, text?.ToString(), finish, prompt.Count) { Speculation = speculation };
    }

    /// <summary>Streams tokens of every request as they are produced; work runs off the caller's thread.</summary>
    public async IAsyncEnumerable<GeneratedToken> GenerateAsync(IReadOnlyList<GenerationRequest> requests, LogitsObserver? observer = null,
        bool observePromptLogits = false, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        using var steps = Generate(requests, observer, observePromptLogits, cancellationToken).GetEnumerator();
        while (await Task.Run(steps.MoveNext, cancellationToken).ConfigureAwait(false))
            yield return steps.Current;
    }

    /// <summary>
    /// Generates for every request; tokens come in step order (each step yields one token per unfinished sequence, or two
    /// for a sequence whose MTP draft was accepted).
    /// <paramref name="observer"/> sees the logits before sampling; with <paramref name="observePromptLogits"/> it
    /// also sees every prompt position's logits from the prefill.
    /// </summary>
    /// <exception cref="ContextLengthException">A prompt plus its <c>MaxTokens</c> does not fit the context (raised before any work).</exception>
    /// <exception cref="OperationCanceledException">Cancelled between tokens.</exception>
    public IEnumerable<GeneratedToken> Generate(IReadOnlyList<GenerationRequest> requests, LogitsObserver? observer = null,
        bool observePromptLogits = false, CancellationToken cancellationToken = default)
    {
        var states = Prepare(requests);
        return Run(states, observer, observePromptLogits, cancellationToken);
    }

    private SequenceState[] Prepare(IReadOnlyList<GenerationRequest> requests)
    {
        ArgumentNullException.ThrowIfNull(requests);
        if (requests.Count == 0) throw new ArgumentException("no requests", nameof(requests));
        var states = new SequenceState[requests.Count];
        for (var s = 0; s < requests.Count; s++) states[s] = CreateState(requests[s], $"request {s}", nameof(requests));
        return states;
    }

    /// <summary>Checks one request (ids in the vocabulary, prompt plus <c>MaxTokens</c> within the context) and makes its state.</summary>
    /// <exception cref="ContextLengthException">The request does not fit the context.</exception>
    internal SequenceState CreateState(GenerationRequest request, string name, string parameter)
    {
        ArgumentNullException.ThrowIfNull(request, parameter);
        var (prompt, options) = request;
        ArgumentNullException.ThrowIfNull(prompt, parameter);
        ArgumentNullException.ThrowIfNull(options, parameter);
        var vocab = _model.VocabSize;
        if (prompt.Count == 0) throw new ArgumentException($"{name} has an empty prompt", parameter);
        foreach (var id in prompt)
            if ((uint)id >= (uint)vocab) throw new ArgumentOutOfRangeException(parameter, $"{name}: token id {id} outside the vocabulary [0, {vocab})");
        var wanted = prompt.Count + (options.MaxTokens ?? 1);
        if (prompt.Count >= ContextLength || wanted > ContextLength)
            throw new ContextLengthException(
                $"{name}: prompt of {prompt.Count} tokens{(options.MaxTokens is { } m ? $" plus {m} new tokens" : "")} exceeds the {ContextLength}-token context",
                wanted, ContextLength);
        return new SequenceState(prompt, options, vocab, ContextLength, SampleableTokens, _eos, _textDecoder?.Invoke(), UsesMtp, Speculative == SpeculativeDecoding.Auto);
    }

    private IEnumerable<GeneratedToken> Run(SequenceState[] states, LogitsObserver? observer, bool observePromptLogits, CancellationToken ct)
    {
        var cache = RentCache(states.Length);
        try
        {
            ct.ThrowIfCancellationRequested();
            // Every request joins before step 0: the first step is the batched prefill, the rest decode.
            var batch = new DecodeBatch(this, cache, observer, observePromptLogits);
            for (var s = 0; s < states.Length; s++) batch.Join(s, states[s]);
            while (batch.HasWork)
            {
                ct.ThrowIfCancellationRequested();
                var emitted = batch.Step();
                // Checked before every token, not only every step: once cancelled, nothing more comes (not even a step's bonus token).
                for (var i = 0; i < emitted; i++)
                {
                    ct.ThrowIfCancellationRequested();
                    yield return batch.Emitted[i];
                }
            }
        }
        finally
        {
            // Kept for the next generation: its KV memory and its planned activations (ActivationScratch), so a server
            // answering request after request neither reallocates the cache nor plans the same step shapes again.
            Volatile.Write(ref _idleCache, cache);
        }
    }

    /// <summary>
    /// Runs two tiny generations together — two-token prompts, three new tokens each, one greedy and one sampled at R1's
    /// temperature 0.6 / top-p 0.95 (MTP drafting as configured) — over a throwaway 8-token cache, so the JIT compiles the
    /// prefill, decode, sampling and drafting code (and the first weights page in) before a real request waits for it.
    /// </summary>
    public void WarmUp(CancellationToken cancellationToken = default)
    {
        var length = Math.Min(8, ContextLength);
        var cache = _model.CreateCache(2, length);
        var greedy = SamplingOptions.Greedy with { MaxTokens = length - 3 };
        var sampled = greedy with { Temperature = 0.6, TopP = 0.95, Seed = 0 };
        var batch = new DecodeBatch(this, cache, observer: null, observePromptLogits: false);
        int[] prompt = [0, Math.Min(1, _model.VocabSize - 1)];
        batch.Join(0, CreateState(new GenerationRequest(prompt, greedy), "warm-up", nameof(cancellationToken)));
        batch.Join(1, CreateState(new GenerationRequest(prompt, sampled), "warm-up", nameof(cancellationToken)));
        while (batch.HasWork)
        {
            cancellationToken.ThrowIfCancellationRequested();
            batch.Step();
        }
    }

    /// <summary>A cache of <paramref name="sequences"/> slots of <see cref="ContextLength"/> tokens for this generator's model.</summary>
    internal KvCache CreateCache(int sequences) => _model.CreateCache(sequences, ContextLength);

    /// <summary>The idle cache of an earlier generation when it fits (emptied), else a new one; concurrent generations never share one.</summary>
    private KvCache RentCache(int sequences)
    {
        var cache = Interlocked.Exchange(ref _idleCache, null);
        if (cache is null || cache.Sequences != sequences) return _model.CreateCache(sequences, ContextLength);
        for (var s = 0; s < sequences; s++) cache.Reset(s);
        return cache;
    }
}
