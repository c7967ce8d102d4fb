namespace DeepSeek.Runtime.Tokenization;

/// <summary>Options of <see cref="IChatFormat.Render"/>, mirroring the arguments of transformers' <c>apply_chat_template</c>.</summary>
public sealed record ChatRenderOptions
{
    /// <summary>Shared default options: generation prompt on, BOS on, no tools.</summary>
    public static ChatRenderOptions Default { get; } = new();

    /// <summary>
    /// Append the opening of the assistant's turn (<c>add_generation_prompt</c>). Default <see langword="true"/>,
    /// since the usual reason to render is to generate; transformers' default is <see langword="false"/>.
    /// </summary>
    public bool AddGenerationPrompt { get; init; } = true;

    /// <summary>
    /// Render the template's <c>bos_token</c>. Turn off when the tokenizer adds BOS itself, to avoid a doubled BOS.
    /// </summary>
    public bool IncludeBos { get; init; } = true;

    /// <summary>
    /// Tool definitions (each a JSON object, OpenAI shape <c>{"type":"function","function":{…}}</c>) passed as the
    /// template's <c>tools</c>. Only formats whose <see cref="IChatFormat.SupportsTools"/> is true render them;
    /// the DeepSeek V3/R1 templates ignore <c>tools</c>, as they do under Jinja.
    /// </summary>
    public IReadOnlyList<string>? Tools { get; init; }
}
