using DeepSeek.Runtime.Generation;
using DeepSeek.Runtime.Tokenization;

namespace DeepSeek.Runtime.Hosting;

/// <summary>One chat request to <see cref="IChatModel.ChatAsync"/>.</summary>
public sealed record ChatModelRequest
{
    /// <summary>Creates a request over <paramref name="messages"/>.</summary>
    public ChatModelRequest(IReadOnlyList<ChatMessage> messages)
    {
        ArgumentNullException.ThrowIfNull(messages);
        Messages = messages;
    }

    /// <summary>The conversation so far.</summary>
    public IReadOnlyList<ChatMessage> Messages { get; init; }

    /// <summary>
    /// Tool declarations, each a JSON object: OpenAI's <c>{"type":"function","function":{"name","description","parameters"}}</c>
    /// or the bare <c>{"name","description","parameters"}</c>. Rendered into the system prompt by <see cref="DeepSeekToolPrompt"/>.
    /// </summary>
    public IReadOnlyList<string> Tools { get; init; } = [];

    /// <summary>How the model should use <see cref="Tools"/>.</summary>
    public ToolChoice ToolChoice { get; init; } = ToolChoice.Auto;

    /// <summary>With <see cref="ToolChoice.Required"/>: the one function the model must call; null = any.</summary>
    public string? RequiredToolName { get; init; }

    /// <summary>Extra system instruction appended to the system prompt (e.g. "answer in JSON"); null = none.</summary>
    public string? Instructions { get; init; }

    /// <summary>
    /// Sampling, limits and stops; null takes the model's defaults. When <see cref="SamplingOptions.MaxTokens"/> is null the model's
    /// default output limit applies, capped to what is left of the context.
    /// </summary>
    public SamplingOptions? Sampling { get; init; }
}

/// <summary>How the model should use the declared tools.</summary>
public enum ToolChoice
{
    /// <summary>The model decides whether to call a tool.</summary>
    Auto,

    /// <summary>Tools are not offered (declarations are not rendered).</summary>
    None,

    /// <summary>The model is instructed to call a tool (a prompt instruction; decoding is not constrained).</summary>
    Required,
}
