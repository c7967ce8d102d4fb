using DeepSeek.Runtime.Generation;
using DeepSeek.Runtime.Tokenization;

namespace DeepSeek.Runtime.Hosting;

/// <summary>One item of <see cref="IChatModel.ChatAsync"/>'s stream.</summary>
public abstract record ChatModelUpdate;

/// <summary>Answer text (outside reasoning and tool-call blocks).</summary>
/// <param name="Text">The text, never empty.</param>
public sealed record ChatAnswerText(string Text) : ChatModelUpdate;

/// <summary>Reasoning text (inside <c>&lt;think&gt;…&lt;/think&gt;</c>; the tags are not included).</summary>
/// <param name="Text">The text, never empty.</param>
public sealed record ChatReasoningText(string Text) : ChatModelUpdate;

/// <summary>A well-formed tool call.</summary>
/// <param name="Call">The call; <see cref="ToolCall.Id"/> is a fresh id (<c>call_…</c>).</param>
public sealed record ChatToolCall(ToolCall Call) : ChatModelUpdate;

/// <summary>Model output that looked like a tool call but could not be parsed.</summary>
/// <param name="Message">What is wrong.</param>
/// <param name="Raw">The offending output.</param>
public sealed record ChatToolCallError(string Message, string Raw) : ChatModelUpdate;

/// <summary>The last update: why generation ended and how many tokens it took.</summary>
/// <param name="Reason"><see cref="FinishReason.ToolCalls"/> when the turn made tool calls and ended on a stop.</param>
/// <param name="Usage">Token counts.</param>
public sealed record ChatFinished(FinishReason Reason, ChatUsage Usage) : ChatModelUpdate;

/// <summary>Token counts of one request.</summary>
/// <param name="PromptTokens">Tokens of the rendered prompt.</param>
/// <param name="CompletionTokens">Tokens generated (a final stop token included).</param>
public readonly record struct ChatUsage(int PromptTokens, int CompletionTokens)
{
    /// <summary>MTP drafts verified and accepted while generating (zero without speculative decoding).</summary>
    public SpeculationStats Speculation { get; init; }

    /// <summary>Prompt plus completion tokens.</summary>
    public int TotalTokens => PromptTokens + CompletionTokens;
}
