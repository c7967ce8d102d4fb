using System.Runtime.CompilerServices;
using System.Text.Json;
using DeepSeek.Runtime.Generation;
using Microsoft.Extensions.AI;

namespace DeepSeek.Runtime.Hosting;

/// <summary>
/// <see cref="IChatClient"/> over an <see cref="IChatModel"/>. Reasoning (<c>&lt;think&gt;</c>) comes back as
/// <see cref="TextReasoningContent"/>, the answer as <see cref="TextContent"/>, tool calls as <see cref="FunctionCallContent"/>
/// (malformed ones as <see cref="ErrorContent"/> with code <c>tool_call_parse_error</c> and the raw output in
/// <see cref="ErrorContent.Details"/>), usage as <see cref="UsageContent"/> on the last streaming update. With MTP speculative
/// decoding the usage's <see cref="UsageDetails.AdditionalCounts"/> carry <c>mtp_drafted_tokens</c> and <c>mtp_accepted_tokens</c>.
/// </summary>
/// <remarks>
/// <para><see cref="ChatOptions"/> mapping: <c>Temperature</c>, <c>TopP</c>, <c>TopK</c>, <c>MaxOutputTokens</c>, <c>Seed</c>,
/// <c>StopSequences</c>, <c>FrequencyPenalty</c>, <c>PresencePenalty</c> go to <see cref="SamplingOptions"/> (unset ones take the
/// model's defaults; <c>AdditionalProperties</c> <c>min_p</c> and <c>repetition_penalty</c> are honoured too).
/// <c>Tools</c> (<see cref="AIFunctionDeclaration"/>s) are rendered into the system prompt by <see cref="DeepSeekToolPrompt"/>;
/// <c>ToolMode</c> none hides them, required adds an instruction to call one (decoding is not constrained).
/// <c>Instructions</c> are appended to the system prompt. <c>ResponseFormat</c> JSON becomes a system instruction to answer with
/// one JSON object (conforming to the schema when one is given) — a prompt, not constrained decoding, so the output is not
/// guaranteed to parse. Not supported (ignored): <c>ModelId</c> (one model per client), <c>Reasoning</c>,
/// <c>AllowMultipleToolCalls</c>, <c>ConversationId</c>, background responses. Tool declarations other than functions and
/// non-text message content (images, audio) throw <see cref="NotSupportedException"/>.</para>
/// <para>Messages: <see cref="FunctionResultContent"/> becomes a tool message (the template's tool outputs); an assistant message
/// with <see cref="FunctionCallContent"/> becomes an assistant tool-call turn (DeepSeek's templates render such a turn without its
/// text); <see cref="TextReasoningContent"/> of earlier turns is not rendered, as DeepSeek's templates drop earlier reasoning.</para>
/// </remarks>
public sealed partial class DeepSeekChatClient : IChatClient
{
    /// <summary>Provider name reported in <see cref="ChatClientMetadata"/>.</summary>
    public const string ProviderName = "deepseek-runtime";

    /// <summary>Key in <see cref="UsageDetails.AdditionalCounts"/> of the MTP draft tokens the main model verified.</summary>
    public const string MtpDraftedTokensKey = "mtp_drafted_tokens";

    /// <summary>Key in <see cref="UsageDetails.AdditionalCounts"/> of the MTP draft tokens it accepted.</summary>
    public const string MtpAcceptedTokensKey = "mtp_accepted_tokens";

    private readonly bool _ownsModel;
    private readonly ChatClientMetadata _metadata;

    /// <summary>Creates a client over <paramref name="model"/>; with <paramref name="ownsModel"/> disposing the client disposes the model.</summary>
    public DeepSeekChatClient(IChatModel model, bool ownsModel = false)
    {
        ArgumentNullException.ThrowIfNull(model);
        Model = model;
        _ownsModel = ownsModel;
        _metadata = new ChatClientMetadata(ProviderName, providerUri: null, defaultModelId: model.Info.Id);
    }

    /// <summary>The model this client talks to.</summary>
    public IChatModel Model { get; }

    /// <inheritdoc />
    public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
        GetStreamingResponseAsync(messages, options, cancellationToken).ToChatResponseAsync(cancellationToken);

    /// <inheritdoc />
    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var request = ToRequest(messages, options, Model.DefaultSampling);
        var responseId = "chatcmpl-" + Guid.NewGuid().ToString("N");
        var created = DateTimeOffset.UtcNow;
        await foreach (var update in Model.ChatAsync(request, cancellationToken).ConfigureAwait(false))
        {
            var result = new ChatResponseUpdate(ChatRole.Assistant, [ToContent(update)])
            {
                ResponseId = responseId,
                MessageId = responseId,
                CreatedAt = created,
                ModelId = Model.Info.Id,
            };
            if (update is ChatFinished finished) result.FinishReason = ToFinishReason(finished.Reason);
            yield return result;
        }
    }

    /// <inheritdoc />
    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        if (serviceKey is not null) return null;
        if (serviceType == typeof(ChatClientMetadata)) return _metadata;
        if (serviceType.IsInstanceOfType(Model)) return Model;
        if (serviceType.IsInstanceOfType(this)) return this;
        return null;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_ownsModel) Model.Dispose();
    }

    private static AIContent ToContent(ChatModelUpdate update) => update switch
    {
        ChatAnswerText t => new TextContent(t.Text),
        ChatReasoningText r => new TextReasoningContent(r.Text),
        ChatToolCall c => new FunctionCallContent(c.Call.Id ?? "call_" + Guid.NewGuid().ToString("N")[..24], c.Call.Name, ParseArguments(c.Call.ArgumentsJson)),
        ChatToolCallError e => new ErrorContent(e.Message) { ErrorCode = "tool_call_parse_error", Details = e.Raw },
        ChatFinished f => new UsageContent(new UsageDetails
        {
            InputTokenCount = f.Usage.PromptTokens,
            OutputTokenCount = f.Usage.CompletionTokens,
            TotalTokenCount = f.Usage.TotalTokens,
            AdditionalCounts = f.Usage.Speculation.Drafted == 0 ? null : new AdditionalPropertiesDictionary<long>
            {
                [MtpDraftedTokensKey] = f.Usage.Speculation.Drafted,
                [MtpAcceptedTokensKey] = f.Usage.Speculation.Accepted,
            },
        }),
        _ => throw new InvalidOperationException($"unknown update {update.GetType().Name}"),
    };

    private static ChatFinishReason? ToFinishReason(FinishReason reason) => reason switch
    {
        FinishReason.Stop => ChatFinishReason.Stop,
        FinishReason.Length => ChatFinishReason.Length,
        FinishReason.ToolCalls => ChatFinishReason.ToolCalls,
        _ => null,
    };

    /// <summary>The arguments object as a dictionary of <see cref="JsonElement"/> values (the parser guarantees an object).</summary>
    private static Dictionary<string, object?> ParseArguments(string json)
    {
        using var doc = JsonDocument.Parse(json);
        var args = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var p in doc.RootElement.EnumerateObject()) args[p.Name] = p.Value.Clone();
        return args;
    }
}
