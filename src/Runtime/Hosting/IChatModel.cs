using DeepSeek.Runtime.Generation;

namespace DeepSeek.Runtime.Hosting;

/// <summary>
/// A loaded chat model that serves many concurrent requests: the runtime's own abstraction under
/// <see cref="DeepSeekChatClient"/>, the HTTP server and the CLI. Requests beyond <see cref="MaxConcurrentSequences"/>
/// wait in a queue (<see cref="QueueLength"/>); every request has its own KV cache slot and sampling state, so requests never
/// change each other's output (<see cref="DeepSeekChatModel"/> decodes the admitted ones together, one batch per step).
/// Implementations are thread-safe.
/// </summary>
public interface IChatModel : IDisposable
{
    /// <summary>What is loaded: id, config, context length, tokenizer and chat format.</summary>
    ChatModelInfo Info { get; }

    /// <summary>Sampling used when a request gives none (from <see cref="DeepSeekModelOptions"/>); <c>MaxTokens</c> is null (the model's default limit applies).</summary>
    SamplingOptions DefaultSampling { get; }

    /// <summary>Requests that may generate at the same time; later ones queue.</summary>
    int MaxConcurrentSequences { get; }

    /// <summary>Requests waiting for a free slot right now.</summary>
    int QueueLength { get; }

    /// <summary>Requests generating right now.</summary>
    int ActiveRequests { get; }

    /// <summary>
    /// Streams the continuation of <paramref name="promptTokens"/> (fed as given: no BOS added, no template applied).
    /// Text keeps special tokens (tool-call markers) except the stop token; the last update carries the finish reason.
    /// </summary>
    /// <exception cref="ContextLengthException">The prompt plus <see cref="SamplingOptions.MaxTokens"/> does not fit the context.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> fired (checked between tokens and while queued).</exception>
    IAsyncEnumerable<GeneratedTextToken> GenerateAsync(IReadOnlyList<int> promptTokens, SamplingOptions options, CancellationToken cancellationToken = default);

    /// <summary>
    /// Renders <paramref name="request"/> with the model's chat format (tool declarations in DeepSeek's tool prompt),
    /// generates, and streams the output split into answer text, reasoning, tool calls and tool-call errors, ending with
    /// one <see cref="ChatFinished"/> carrying the finish reason and token usage.
    /// </summary>
    /// <exception cref="ContextLengthException">The rendered prompt plus the requested tokens does not fit the context.</exception>
    /// <exception cref="ArgumentException">The conversation cannot be rendered (e.g. a user message without content).</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> fired.</exception>
    IAsyncEnumerable<ChatModelUpdate> ChatAsync(ChatModelRequest request, CancellationToken cancellationToken = default);
}
