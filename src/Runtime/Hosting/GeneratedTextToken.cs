using DeepSeek.Runtime.Generation;

namespace DeepSeek.Runtime.Hosting;

/// <summary>One generated token of <see cref="IChatModel.GenerateAsync"/>.</summary>
/// <param name="TokenId">The sampled id (a final stop token is reported too).</param>
/// <param name="Text">Text the token completes (special tokens kept, stop token and stop sequences excluded).</param>
/// <param name="Finish">Why generation ended with this token, or null while it goes on.</param>
public readonly record struct GeneratedTextToken(int TokenId, string Text, FinishReason? Finish)
{
    /// <summary>The request's MTP draft counts so far (see <see cref="GeneratedToken.Speculation"/>); zero without speculative decoding.</summary>
    public SpeculationStats Speculation { get; init; }
}
