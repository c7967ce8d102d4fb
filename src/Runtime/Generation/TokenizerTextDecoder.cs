using DeepSeek.Runtime.Tokenization;

namespace DeepSeek.Runtime.Generation;

/// <summary>
/// A tokenizer's <see cref="StreamingDecoder"/> as the generator's text decoder (never yields a broken character).
/// Chat serving keeps special tokens so tool-call markers reach the parser; plain text output skips them.
/// </summary>
public sealed class TokenizerTextDecoder(BpeTokenizer tokenizer, bool skipSpecialTokens = false) : ITokenTextDecoder
{
    private readonly StreamingDecoder _decoder = (tokenizer ?? throw new ArgumentNullException(nameof(tokenizer))).CreateStreamingDecoder(skipSpecialTokens);

    /// <inheritdoc/>
    public string Append(int tokenId) => _decoder.Add(tokenId);

    /// <inheritdoc/>
    public string Flush() => _decoder.Flush();
}
