namespace DeepSeek.Runtime.Tokenization;

/// <summary>One item of <see cref="ToolCallParser"/> output: text, a parsed call, or a malformed call.</summary>
public abstract record ToolCallParseResult;

/// <summary>Ordinary text (content outside the tool-call block).</summary>
/// <param name="Text">The text, never empty.</param>
public sealed record ToolCallText(string Text) : ToolCallParseResult;

/// <summary>A well-formed call.</summary>
/// <param name="Call">The call; <see cref="ToolCall.ArgumentsJson"/> is valid JSON, <see cref="ToolCall.Id"/> is null.</param>
public sealed record ToolCallParsed(ToolCall Call) : ToolCallParseResult;

/// <summary>A malformed call or block, reported instead of thrown.</summary>
/// <param name="Message">What is wrong.</param>
/// <param name="Raw">The offending model output, as generated.</param>
public sealed record ToolCallParseError(string Message, string Raw) : ToolCallParseResult;
