namespace DeepSeek.Runtime.Tokenization;

/// <summary>A <c>chat_template</c> is missing or belongs to no supported family; the message names the file and the supported families.</summary>
public sealed class ChatTemplateException : Exception
{
    /// <summary>Creates the exception.</summary>
    public ChatTemplateException(string message, string? file = null, Exception? inner = null)
        : base(file is null ? message : $"{message} (file '{file}')", inner)
    {
        File = file;
    }

    /// <summary>The <c>tokenizer_config.json</c> at fault, if known.</summary>
    public string? File { get; }
}
