namespace DeepSeek.Runtime.Generation;

/// <summary>Turns generated token ids into text as they arrive; partial UTF-8 is held until complete.</summary>
public interface ITokenTextDecoder
{
    /// <summary>Adds a token; returns the text it completes (possibly empty).</summary>
    string Append(int tokenId);

    /// <summary>Returns whatever is still held back (an incomplete character becomes U+FFFD).</summary>
    string Flush();
}

/// <summary>One sequence to generate: its prompt ids and sampling options.</summary>
/// <param name="Prompt">Prompt token ids, fed as given.</param>
/// <param name="Options">Sampling, limits and stops for this sequence.</param>
public sealed record GenerationRequest(IReadOnlyList<int> Prompt, SamplingOptions Options);

/// <summary>A token produced for sequence <paramref name="Sequence"/> of a batch.</summary>
/// <param name="Sequence">Index of the request in the batch.</param>
/// <param name="TokenId">The sampled id (a stop token is reported too, with <see cref="Finish"/> = Stop).</param>
/// <param name="Text">Text this token completes, after stop-sequence hold-back; empty without a text decoder.</param>
/// <param name="Finish">Why the sequence ended with this token, or null while it goes on.</param>
public readonly record struct GeneratedToken(int Sequence, int TokenId, string Text, FinishReason? Finish)
{
    /// <summary>The sequence's MTP draft counts so far (this token's verification included); zero without speculative decoding.</summary>
    public SpeculationStats Speculation { get; init; }
}

/// <summary>Sees the logits of each sequence before sampling changes them.</summary>
/// <param name="sequence">Index of the request.</param>
/// <param name="position">Position whose next token these logits predict.</param>
/// <param name="logits">One row of vocabulary logits.</param>
public delegate void LogitsObserver(int sequence, int position, ReadOnlySpan<float> logits);

/// <summary>The whole result of one sequence.</summary>
/// <param name="Tokens">Generated ids (a final stop token included).</param>
/// <param name="Text">Generated text (stop token and stop sequence excluded); null without a text decoder.</param>
/// <param name="Finish">Why generation ended.</param>
/// <param name="PromptTokens">Prompt length.</param>
public sealed record GenerationResult(IReadOnlyList<int> Tokens, string? Text, FinishReason Finish, int PromptTokens)
{
    /// <summary>How the MTP drafts fared; zero without speculative decoding.</summary>
    public SpeculationStats Speculation { get; init; }
}
