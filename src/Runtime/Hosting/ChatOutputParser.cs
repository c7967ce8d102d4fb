using DeepSeek.Runtime.Tokenization;

namespace DeepSeek.Runtime.Hosting;

/// <summary>
/// Splits streamed model text into <see cref="ChatModelUpdate"/>s: <see cref="ReasoningParser"/> first (think blocks become
/// <see cref="ChatReasoningText"/>), then <see cref="ToolCallParser"/> over the answer (calls become <see cref="ChatToolCall"/>
/// with a fresh id, malformed calls <see cref="ChatToolCallError"/>, the rest <see cref="ChatAnswerText"/>).
/// The results do not depend on how the text is chunked. Not thread-safe: one parser per request.
/// </summary>
public sealed class ChatOutputParser
{
    private readonly ReasoningParser _reasoning;
    private readonly ToolCallParser _tools = new();

    /// <summary>Creates a parser for the output that follows <paramref name="renderedPrompt"/> (an open <c>&lt;think&gt;</c> starts it in reasoning).</summary>
    public ChatOutputParser(string renderedPrompt) => _reasoning = ReasoningParser.ForPrompt(renderedPrompt);

    /// <summary>Tool calls parsed so far.</summary>
    public int ToolCalls { get; private set; }

    /// <summary>Consumes a chunk of model text and returns the updates it completes.</summary>
    public IReadOnlyList<ChatModelUpdate> Feed(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Length == 0) return [];
        var output = new List<ChatModelUpdate>();
        Route(_reasoning.Feed(text), output);
        return output;
    }

    /// <summary>Ends the output: held-back text is emitted and an unterminated tool-call block is reported.</summary>
    public IReadOnlyList<ChatModelUpdate> Flush()
    {
        var output = new List<ChatModelUpdate>();
        Route(_reasoning.Flush(), output);
        Add(_tools.Flush(), output);
        return output;
    }

    private void Route(IReadOnlyList<ReasoningSegment> segments, List<ChatModelUpdate> output)
    {
        foreach (var segment in segments)
        {
            if (segment.Kind == ReasoningKind.Reasoning) output.Add(new ChatReasoningText(segment.Text));
            else Add(_tools.Feed(segment.Text), output);
        }
    }

    private void Add(IReadOnlyList<ToolCallParseResult> results, List<ChatModelUpdate> output)
    {
        foreach (var r in results)
        {
            switch (r)
            {
                case ToolCallText t:
                    output.Add(new ChatAnswerText(t.Text));
                    break;
                case ToolCallParsed p:
                    ToolCalls++;
                    output.Add(new ChatToolCall(p.Call with { Id = "call_" + Guid.NewGuid().ToString("N")[..24] }));
                    break;
                case ToolCallParseError e:
                    output.Add(new ChatToolCallError(e.Message, e.Raw));
                    break;
            }
        }
    }
}
