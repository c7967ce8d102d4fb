using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;
using DeepSeek.Runtime.Generation;
using DeepSeek.Runtime.Tokenization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace DeepSeek.Runtime.Hosting;

/// <summary>
/// The shared half of an <see cref="IChatModel"/>: admission (at most <see cref="MaxConcurrentSequences"/> requests generate,
/// the rest queue), prompt rendering and tokenization, default sampling, output parsing, usage, logging, metrics and one
/// activity per request. A derived class only turns prompt ids into tokens (<see cref="GenerateCoreAsync"/>), so a scripted
/// test model goes through exactly the pipeline a real one does.
/// </summary>
public abstract partial class ChatModelBase : IChatModel
{
    private readonly SemaphoreSlim _gate;
    private readonly ChatModelMetrics _metrics;
    private readonly ILogger _logger;
    private readonly DeepSeekModelOptions _defaults;
    private int _queued, _active;

    /// <summary>Sets up admission, defaults and telemetry for <paramref name="info"/>.</summary>
    protected ChatModelBase(ChatModelInfo info, DeepSeekModelOptions options, ILoggerFactory? loggerFactory = null, IMeterFactory? meterFactory = null)
    {
        ArgumentNullException.ThrowIfNull(info);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxConcurrentSequences, 1);
        Info = info;
        _defaults = options;
        MaxConcurrentSequences = options.MaxConcurrentSequences;
        _gate = new SemaphoreSlim(MaxConcurrentSequences, MaxConcurrentSequences);
        _logger = (ILogger?)loggerFactory?.CreateLogger(GetType()) ?? NullLogger.Instance;
        _metrics = new ChatModelMetrics(this, info.Id, meterFactory);
    }

    /// <inheritdoc />
    public ChatModelInfo Info { get; }

    /// <inheritdoc />
    public int MaxConcurrentSequences { get; }

    /// <inheritdoc />
    public SamplingOptions DefaultSampling => new() { Temperature = _defaults.Temperature, TopP = _defaults.TopP };

    /// <inheritdoc />
    public int QueueLength => Volatile.Read(ref _queued);

    /// <inheritdoc />
    public int ActiveRequests => Volatile.Read(ref _active);

    /// <summary>The batch scheduler's slots, KV cache memory and steps, for the model's metrics; null for a model that does not batch.</summary>
    protected internal virtual BatchSchedulerStats? BatchingStats => null;

    /// <summary>The logger of this model.</summary>
    protected ILogger Logger => _logger;

    /// <summary>Generates from <paramref name="promptTokens"/>; called once admitted, with validated options that fit the context.</summary>
    protected abstract IAsyncEnumerable<GeneratedTextToken> GenerateCoreAsync(IReadOnlyList<int> promptTokens, SamplingOptions options, CancellationToken cancellationToken);

    /// <summary>The prompt text <paramref name="request"/> renders to (tools, instructions, chat template, BOS).</summary>
    public string RenderPrompt(ChatModelRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var format = Info.ChatFormat;
        var messages = request.Messages;
        var tools = request.ToolChoice == ToolChoice.None ? [] : request.Tools;
        if (!format.SupportsTools) messages = DeepSeekToolPrompt.Apply(messages, tools, request.ToolChoice, request.RequiredToolName);
        if (!string.IsNullOrEmpty(request.Instructions)) messages = DeepSeekToolPrompt.AppendSystem(messages, request.Instructions);
        return format.Render(messages, new ChatRenderOptions { Tools = format.SupportsTools && tools.Count > 0 ? tools : null });
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<GeneratedTextToken> GenerateAsync(IReadOnlyList<int> promptTokens, SamplingOptions options,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(promptTokens);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (promptTokens.Count == 0) throw new ArgumentException("the prompt is empty", nameof(promptTokens));
        var wanted = promptTokens.Count + (options.MaxTokens ?? 1);
        if (promptTokens.Count >= Info.ContextLength || wanted > Info.ContextLength)
            throw new ContextLengthException(
                $"prompt of {promptTokens.Count} tokens{(options.MaxTokens is { } m ? $" plus {m} new tokens" : "")} exceeds the {Info.ContextLength}-token context",
                wanted, Info.ContextLength);

        using var activity = DeepSeekDiagnostics.ActivitySource.StartActivity($"chat {Info.Id}", ActivityKind.Internal);
        activity?.SetTag("gen_ai.operation.name", "chat");
        activity?.SetTag("gen_ai.system", "deepseek");
        activity?.SetTag(DeepSeekDiagnostics.ModelTag, Info.Id);
        activity?.SetTag("gen_ai.usage.input_tokens", promptTokens.Count);

        Interlocked.Increment(ref _queued);
        try
        {
            await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            Interlocked.Decrement(ref _queued);
        }

        Interlocked.Increment(ref _active);
        var generated = 0;
        var speculation = default(SpeculationStats);
        string finish = "cancelled";
        var clock = Stopwatch.StartNew();
        var firstToken = TimeSpan.Zero;
        try
        {
            LogStart(Info.Id, promptTokens.Count, options.MaxTokens);
            _metrics.Prompt(promptTokens.Count);
            await foreach (var token in GenerateCoreAsync(promptTokens, options, cancellationToken).WithCancellation(cancellationToken).ConfigureAwait(false))
            {
                if (generated++ == 0)
                {
                    firstToken = clock.Elapsed;
                    _metrics.FirstToken(firstToken);
                }
                _metrics.Token();
                speculation = token.Speculation;
                if (token.Finish is { } f) finish = f.ToString().ToLowerInvariant();
                yield return token;
            }
        }
        finally
        {
            Interlocked.Decrement(ref _active);
            _gate.Release();
            var decode = clock.Elapsed - firstToken;
            _metrics.Finished(finish, generated, decode, speculation);
            activity?.SetTag("gen_ai.usage.output_tokens", generated);
            activity?.SetTag("gen_ai.response.finish_reasons", finish);
            LogFinish(Info.Id, promptTokens.Count, generated, finish, clock.Elapsed.TotalMilliseconds);
        }
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<ChatModelUpdate> ChatAsync(ChatModelRequest request, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var prompt = RenderPrompt(request);
        var ids = Info.Tokenizer.Encode(prompt, addSpecialTokens: false);
        var sampling = ResolveSampling(request.Sampling, ids.Count);
        var parser = new ChatOutputParser(prompt);
        var generated = 0;
        var finish = FinishReason.Length;
        var speculation = default(SpeculationStats);
        await foreach (var token in GenerateAsync(ids, sampling, cancellationToken).ConfigureAwait(false))
        {
            generated++;
            speculation = token.Speculation;
            foreach (var update in parser.Feed(token.Text)) yield return update;
            if (token.Finish is { } f) finish = f;
        }
        foreach (var update in parser.Flush()) yield return update;
        if (finish == FinishReason.Stop && parser.ToolCalls > 0) finish = FinishReason.ToolCalls;
        yield return new ChatFinished(finish, new ChatUsage(ids.Count, generated) { Speculation = speculation });
    }

    /// <summary>
    /// The request's sampling, or the model's defaults; a missing <see cref="SamplingOptions.MaxTokens"/> becomes the default
    /// output limit capped to what is left of the context after <paramref name="promptTokens"/>.
    /// </summary>
    public SamplingOptions ResolveSampling(SamplingOptions? requested, int promptTokens)
    {
        var options = requested ?? DefaultSampling;
        if (options.MaxTokens is null)
        {
            var room = Info.ContextLength - promptTokens;
            options = options with { MaxTokens = room >= 1 ? Math.Min(_defaults.MaxOutputTokens, room) : _defaults.MaxOutputTokens };
        }
        return options;
    }

    /// <summary>Releases the model's resources.</summary>
    public void Dispose()
    {
        Dispose(disposing: true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Releases resources; derived classes release theirs and call the base.</summary>
    protected virtual void Dispose(bool disposing)
    {
        if (!disposing) return;
        _metrics.Dispose();
        _gate.Dispose();
    }

    [LoggerMessage(EventId = 2, Level = LogLevel.Debug, Message = "Request started on {Model}: {PromptTokens} prompt tokens, up to {MaxTokens} new")]
    private partial void LogStart(string model, int promptTokens, int? maxTokens);

    [LoggerMessage(EventId = 3, Level = LogLevel.Information, Message = "Request finished on {Model}: {PromptTokens} prompt + {CompletionTokens} completion tokens, finish {FinishReason}, {ElapsedMs:F0} ms")]
    private partial void LogFinish(string model, int promptTokens, int completionTokens, string finishReason, double elapsedMs);
}
