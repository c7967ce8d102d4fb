namespace DeepSeek.Runtime.Tokenization;

/// <summary>Who wrote a chat message.</summary>
public enum ChatRole
{
    /// <summary>Instructions for the model.</summary>
    System,

    /// <summary>The human (or calling program).</summary>
    User,

    /// <summary>The model.</summary>
    Assistant,

    /// <summary>The output of a tool the assistant called.</summary>
    Tool,
}

/// <summary>
/// One message of a conversation, in the shape chat templates consume (OpenAI-style).
/// </summary>
/// <param name="Role">Who wrote it.</param>
/// <param name="Content">
/// The text. <see langword="null"/> is only meaningful for an assistant message that carries <paramref name="ToolCalls"/>;
/// elsewhere the templates cannot render it and <see cref="IChatFormat.Render"/> throws <see cref="ArgumentException"/>.
/// </param>
/// <param name="ToolCalls">
/// Calls made by an assistant message. <see langword="null"/> means the message has no <c>tool_calls</c> key at all,
/// which is not the same as an empty list to some templates.
/// </param>
/// <param name="ToolCallId">For a tool message, the id of the call it answers (not rendered by the supported templates).</param>
/// <param name="Reasoning">
/// An assistant's reasoning kept apart from <paramref name="Content"/>. None of the supported templates renders it
/// (R1's template even strips <c>&lt;think&gt;…&lt;/think&gt;</c> from earlier turns), so it is carried for callers only.
/// </param>
public sealed record ChatMessage(
    ChatRole Role,
    string? Content,
    IReadOnlyList<ToolCall>? ToolCalls = null,
    string? ToolCallId = null,
    string? Reasoning = null)
{
    /// <summary>A system message.</summary>
    public static ChatMessage System(string content) => new(ChatRole.System, content);

    /// <summary>A user message.</summary>
    public static ChatMessage User(string content) => new(ChatRole.User, content);

    /// <summary>An assistant message, optionally with tool calls.</summary>
    public static ChatMessage Assistant(string? content, params ToolCall[] toolCalls) =>
        new(ChatRole.Assistant, content, toolCalls.Length == 0 ? null : toolCalls);

    /// <summary>A tool output answering call <paramref name="toolCallId"/>.</summary>
    public static ChatMessage Tool(string content, string? toolCallId = null) => new(ChatRole.Tool, content, ToolCallId: toolCallId);
}

/// <summary>A function call requested by the assistant.</summary>
/// <param name="Name">The function name.</param>
/// <param name="ArgumentsJson">The arguments as JSON text, exactly as rendered into the prompt by DeepSeek templates.</param>
/// <param name="Id">The call id, if any (not rendered by the supported templates).</param>
/// <param name="Type">The call type; templates render it verbatim (DeepSeek: <c>function</c>).</param>
public sealed record ToolCall(string Name, string ArgumentsJson, string? Id = null, string Type = "function");
