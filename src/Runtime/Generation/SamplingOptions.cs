using System.Globalization;

namespace DeepSeek.Runtime.Generation;

/// <summary>
/// How one generation turns logits into tokens and when it stops. Order of application (as in Hugging Face and vLLM):
/// repetition, presence and frequency penalties → temperature → top-k → top-p → min-p → softmax → draw.
/// </summary>
/// <remarks>
/// Record equality compares <see cref="StopTokenIds"/> and <see cref="StopSequences"/> by reference.
/// </remarks>
public sealed record SamplingOptions
{
    /// <summary>Greedy decoding (temperature 0): always the highest logit, ties to the lowest token id.</summary>
    public static SamplingOptions Greedy { get; } = new() { Temperature = 0 };

    /// <summary>Softmax temperature: logits are divided by it. 0 means greedy (argmax). Default 1.</summary>
    public double Temperature { get; init; } = 1.0;

    /// <summary>Keep only the <c>TopK</c> highest logits (all tokens tied with the k-th are kept, as in HF). 0 = off.</summary>
    public int TopK { get; init; }

    /// <summary>
    /// Nucleus sampling: keep the smallest set of most probable tokens whose cumulative probability reaches <c>TopP</c>,
    /// including the token that crosses it (HF semantics). In (0, 1]; 1 = off.
    /// </summary>
    public double TopP { get; init; } = 1.0;

    /// <summary>Drop tokens whose probability is below <c>MinP</c> × the top token's probability. In [0, 1]; 0 = off.</summary>
    public double MinP { get; init; }

    /// <summary>
    /// CTRL / Hugging Face repetition penalty over every token id in the context (prompt and generated):
    /// a positive logit is divided by it, a non-positive one multiplied. Must be positive; 1 = off.
    /// </summary>
    public double RepetitionPenalty { get; init; } = 1.0;

    /// <summary>
    /// OpenAI presence penalty: subtracted once from the logit of every token that was <em>generated</em> at least once
    /// (prompt tokens do not count). 0 = off; negative values encourage repetition.
    /// </summary>
    public double PresencePenalty { get; init; }

    /// <summary>
    /// OpenAI frequency penalty: subtracted from a token's logit once per time it was <em>generated</em>
    /// (prompt tokens do not count). 0 = off; negative values encourage repetition.
    /// </summary>
    public double FrequencyPenalty { get; init; }

    /// <summary>Seed of the sampler's generator: the same seed, options and logits give the same tokens. Null = random.</summary>
    public long? Seed { get; init; }

    /// <summary>The most tokens to generate; null = until a stop or the context window is full.</summary>
    public int? MaxTokens { get; init; }

    /// <summary>Token ids that end generation (in addition to the model's EOS ids); the stop token is not emitted as text.</summary>
    public IReadOnlyList<int> StopTokenIds { get; init; } = [];

    /// <summary>Strings that end generation when they appear in the decoded text; the text is cut before the match.</summary>
    public IReadOnlyList<string> StopSequences { get; init; } = [];

    /// <summary>True when <see cref="Temperature"/> is 0, i.e. the sampler takes the argmax.</summary>
    public bool IsGreedy => Temperature == 0;

    /// <summary>Checks every option's range; throws <see cref="ArgumentOutOfRangeException"/> naming the option.</summary>
    public void Validate()
    {
        if (!double.IsFinite(Temperature) || Temperature < 0)
            throw Bad(nameof(Temperature), Temperature, "must be a finite number >= 0 (0 = greedy)");
        if (TopK < 0)
            throw Bad(nameof(TopK), TopK, "must be >= 0 (0 = off)");
        if (!(TopP > 0 && TopP <= 1))
            throw Bad(nameof(TopP), TopP, "must be in (0, 1] (1 = off)");
        if (!(MinP >= 0 && MinP <= 1))
            throw Bad(nameof(MinP), MinP, "must be in [0, 1] (0 = off)");
        if (!double.IsFinite(RepetitionPenalty) || RepetitionPenalty <= 0)
            throw Bad(nameof(RepetitionPenalty), RepetitionPenalty, "must be a finite number > 0 (1 = off)");
        if (!double.IsFinite(PresencePenalty))
            throw Bad(nameof(PresencePenalty), PresencePenalty, "must be finite (0 = off)");
        if (!double.IsFinite(FrequencyPenalty))
            throw Bad(nameof(FrequencyPenalty), FrequencyPenalty, "must be finite (0 = off)");
        if (MaxTokens is { } max && max <= 0)
            throw Bad(nameof(MaxTokens), max, "must be positive when set");
        if (StopTokenIds is null)
            throw new ArgumentOutOfRangeException(nameof(StopTokenIds), "must not be null (use an empty list)");
        for (int i = 0; i < StopTokenIds.Count; i++)
        {
            if (StopTokenIds[i] < 0)
                throw Bad(nameof(StopTokenIds), StopTokenIds[i], $"entry {i} is a negative token id");
        }
        if (StopSequences is null)
            throw new ArgumentOutOfRangeException(nameof(StopSequences), "must not be null (use an empty list)");
        for (int i = 0; i < StopSequences.Count; i++)
        {
            if (string.IsNullOrEmpty(StopSequences[i]))
                throw new ArgumentOutOfRangeException(nameof(StopSequences), $"entry {i} is null or empty");
        }
    }

    private static ArgumentOutOfRangeException Bad(string option, object value, string rule) =>
        new(option, value, string.Create(CultureInfo.InvariantCulture, $"SamplingOptions.{option} {rule}, got {value}."));
}
