using System.Text;

namespace DeepSeek.Runtime.Tokenization;

/// <summary>DeepSeek's special tokens as they appear in rendered prompts and model output.</summary>
internal static class DeepSeekTokens
{
    public const string User = "<｜User｜>";
    public const string Assistant = "<｜Assistant｜>";
    public const string EndOfSentence = "<｜end▁of▁sentence｜>";
    public const string ToolCallsBegin = "<｜tool▁calls▁begin｜>";
    public const string ToolCallsEnd = "<｜tool▁calls▁end｜>";
    public const string ToolCallBegin = "<｜tool▁call▁begin｜>";
    public const string ToolCallEnd = "<｜tool▁call▁end｜>";
    public const string ToolSep = "<｜tool▁sep｜>";
    public const string ToolOutputsBegin = "<｜tool▁outputs▁begin｜>";
    public const string ToolOutputsEnd = "<｜tool▁outputs▁end｜>";
    public const string ToolOutputBegin = "<｜tool▁output▁begin｜>";
    public const string ToolOutputEnd = "<｜tool▁output▁end｜>";
    public const string ThinkEnd = "</think>";
}

/// <summary>Pieces shared by the DeepSeek template families.</summary>
internal static class DeepSeekChat
{
    /// <summary>The content Jinja's <c>'…' + message['content']</c> needs; null there is a TypeError under Jinja.</summary>
    public static string Content(ChatMessage message, int index) =>
        message.Content ?? throw new ArgumentException(
            $"message {index} ({message.Role}) has no content; the template cannot render it", "messages");

    /// <summary><c>TYPE&lt;｜tool▁sep｜&gt;NAME\n```json\nARGS\n```&lt;｜tool▁call▁end｜&gt;</c>.</summary>
    public static void AppendCall(StringBuilder sb, ToolCall call) =>
        sb.Append(call.Type).Append(DeepSeekTokens.ToolSep).Append(call.Name)
          .Append("\n```json\n").Append(call.ArgumentsJson).Append("\n```").Append(DeepSeekTokens.ToolCallEnd);

    /// <summary>R1's <c>content.split('&lt;/think&gt;')[-1]</c>: what follows the last <c>&lt;/think&gt;</c>.</summary>
    public static string AfterThink(string content)
    {
        int at = content.LastIndexOf(DeepSeekTokens.ThinkEnd, StringComparison.Ordinal);
        return at < 0 ? content : content[(at + DeepSeekTokens.ThinkEnd.Length)..];
    }

    /// <summary>The system prompt: all system messages joined by a blank line, or (older R1-Distill) the last one alone.</summary>
    public static string SystemPrompt(IReadOnlyList<ChatMessage> messages, bool concatenate)
    {
        string? prompt = null;
        for (int i = 0; i < messages.Count; i++)
        {
            if (messages[i].Role != ChatRole.System) continue;
            string content = Content(messages[i], i);
            prompt = concatenate && prompt is not null ? prompt + "\n\n" + content : content;
        }
        return prompt ?? "";
    }

    public static void CheckArguments(IReadOnlyList<ChatMessage> messages)
    {
        ArgumentNullException.ThrowIfNull(messages);
        for (int i = 0; i < messages.Count; i++)
            if (messages[i] is null) throw new ArgumentException($"message {i} is null", nameof(messages));
    }
}
