namespace DeepSeek.Runtime.Generation;

/// <summary>
/// The token-level stop rules of one generation: stop token ids (the model's EOS plus
/// <see cref="SamplingOptions.StopTokenIds"/>) and <see cref="SamplingOptions.MaxTokens"/>. Checking a token does not allocate.
/// Text-level stop strings are <see cref="StopSequenceMatcher"/>'s job.
/// </summary>
public sealed class StopCondition
{
    private readonly int[] _stopIds; // sorted, distinct

    /// <summary>Creates the rules from <paramref name="options"/> plus the model's <paramref name="eosTokenIds"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range or an EOS id is negative.</exception>
    public StopCondition(SamplingOptions options, IEnumerable<int>? eosTokenIds = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        int[] eos = eosTokenIds is null ? [] : [.. eosTokenIds];
        foreach (int id in eos)
            ArgumentOutOfRangeException.ThrowIfNegative(id, nameof(eosTokenIds));
        _stopIds = [.. eos.Concat(options.StopTokenIds).Distinct().Order()];
        MaxTokens = options.MaxTokens;
    }

    /// <summary>The most tokens to generate, or null for no limit besides the context window.</summary>
    public int? MaxTokens { get; }

    /// <summary>The stop token ids, sorted.</summary>
    public IReadOnlyList<int> StopTokenIds => _stopIds;

    /// <summary>Whether <paramref name="tokenId"/> ends generation.</summary>
    public bool IsStopToken(int tokenId) => Array.BinarySearch(_stopIds, tokenId) >= 0;

    /// <summary>
    /// Checks a token just sampled. A stop token wins over the length limit (it ends the turn either way, and
    /// <see cref="FinishReason.Stop"/> tells the caller the model finished on its own).
    /// </summary>
    /// <param name="tokenId">The sampled token.</param>
    /// <param name="generatedCount">Tokens generated so far, this one included.</param>
    /// <returns>Why to finish, or null to go on.</returns>
    public FinishReason? Check(int tokenId, int generatedCount)
    {
        if (IsStopToken(tokenId))
            return FinishReason.Stop;
        if (generatedCount >= MaxTokens)
            return FinishReason.Length;
        return null;
    }
}
