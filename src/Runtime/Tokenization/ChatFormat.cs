namespace DeepSeek.Runtime.Tokenization;

/// <summary>
/// Renders a conversation into prompt text exactly as one family of Jinja <c>chat_template</c>s renders it,
/// without a template engine. Obtain one from <see cref="ChatFormats"/>.
/// </summary>
public interface IChatFormat
{
    /// <summary>The template family, one of <see cref="ChatFormats.Families"/>.</summary>
    string Family { get; }

    /// <summary>Whether the template renders <see cref="ChatRenderOptions.Tools"/>.</summary>
    bool SupportsTools { get; }

    /// <summary>The text the generation prompt ends with (what the model continues from), e.g. <c>&lt;｜Assistant｜&gt;&lt;think&gt;\n</c>.</summary>
    string GenerationPrompt { get; }

    /// <summary>Renders <paramref name="messages"/>; the result is byte-for-byte what the template renders.</summary>
    /// <exception cref="ArgumentException">The conversation is one the template cannot render (e.g. a user message without content).</exception>
    string Render(IReadOnlyList<ChatMessage> messages, ChatRenderOptions? options = null);
}
