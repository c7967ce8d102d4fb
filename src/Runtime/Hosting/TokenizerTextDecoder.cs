using DeepSeek.Runtime.Generation;
using DeepSeek.Runtime.Tokenization;

namespace DeepSeek.Runtime.Hosting;

/// <summary>The tokenizer's streaming decoder as the generator's text decoder; special tokens are kept so tool-call markers reach the parser.</summary>
internal sealed class TokenizerTextDecoder(BpeTokenizer tokenizer) : ITokenTextDecoder
{
    private readonly StreamingDecoder _decoder = tokenizer.CreateStreamingDecoder(skipSpecialTokens: false);

    public string Append(int tokenId) => _decoder.Add(tokenId);

    public string Flush() => _decoder.Flush();
}
