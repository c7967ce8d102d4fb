using System.Globalization;
using System.Text.RegularExpressions;
using DeepSeek.Runtime.Generation;

namespace DeepSeek.Runtime.Training.Grpo;

/// <summary>What a reward function sees of one completion.</summary>
/// <param name="PromptIndex">Index of the prompt in the list given to <see cref="GrpoTrainer.Train"/>.</param>
/// <param name="Prompt">Prompt token ids.</param>
/// <param name="Completion">Generated ids (a final stop token included when <see cref="Finish"/> is <see cref="FinishReason.Stop"/>).</param>
/// <param name="Text">Decoded completion (stop token excluded), or null without a text decoder.</param>
/// <param name="Finish">Why the completion ended.</param>
public sealed record RewardContext(int PromptIndex, int[] Prompt, int[] Completion, string? Text, FinishReason Finish);

/// <summary>Rule-based rewards in the style of DeepSeek-R1 (accuracy and format), plus token-level ones that need no tokenizer.</summary>
public static partial class Rewards
{
    /// <summary>
    /// 1 when the last number in the answer (the text after <c>&lt;/think&gt;</c> if present) equals
    /// <paramref name="expected"/>(prompt) numerically, else 0; 0 without text.
    /// </summary>
    public static Func<RewardContext, double> ExactNumber(Func<int[], string> expected)
    {
        ArgumentNullException.ThrowIfNull(expected);
        return c =>
        {
            if (c.Text is null) return 0;
            var answer = c.Text;
            var close = answer.LastIndexOf("</think>", StringComparison.Ordinal);
            if (close >= 0) answer = answer[(close + "</think>".Length)..];
            var numbers = NumberPattern().Matches(answer);
            if (numbers.Count == 0) return 0;
            var want = expected(c.Prompt);
            return decimal.TryParse(numbers[^1].Value.Replace(",", "", StringComparison.Ordinal), NumberStyles.Float, CultureInfo.InvariantCulture, out var got)
                && decimal.TryParse(want, NumberStyles.Float, CultureInfo.InvariantCulture, out var w) && got == w ? 1 : 0;
        };
    }

    /// <summary>1 when the completion (a final stop token ignored) is exactly <paramref name="expected"/>(prompt), else 0.</summary>
    public static Func<RewardContext, double> ExactTokens(Func<int[], int[]> expected)
    {
        ArgumentNullException.ThrowIfNull(expected);
        return c =>
        {
            var got = c.Finish == FinishReason.Stop && c.Completion.Length > 0 ? c.Completion[..^1] : c.Completion;
            return got.AsSpan().SequenceEqual(expected(c.Prompt)) ? 1 : 0;
        };
    }

    /// <summary>Fraction of completion tokens for which <paramref name="predicate"/> holds (0 for an empty completion).</summary>
    public static Func<RewardContext, double> TokenFraction(Func<int, bool> predicate)
    {
        ArgumentNullException.ThrowIfNull(predicate);
        return c => c.Completion.Length == 0 ? 0 : (double)c.Completion.Count(predicate) / c.Completion.Length;
    }

    /// <summary>1 when the first generated token is <paramref name="tokenId"/>, else 0.</summary>
    public static Func<RewardContext, double> FirstToken(int tokenId) => c => c.Completion.Length > 0 && c.Completion[0] == tokenId ? 1 : 0;

    /// <summary>
    /// R1's format reward: 1 when the text is <c>&lt;think&gt;…&lt;/think&gt;</c> followed by a non-empty answer, else 0.
    /// The opening tag may be absent — R1's chat template ends the generation prompt with <c>&lt;think&gt;\n</c>, so the
    /// completion starts inside the reasoning — but the reasoning never opens a second one and closes exactly once.
    /// </summary>
    public static Func<RewardContext, double> ThinkFormat() => c => c.Text is not null && ThinkPattern().IsMatch(c.Text) ? 1 : 0;

    /// <summary>−<paramref name="weight"/> × completion length / <paramref name="maxTokens"/>: favours short completions.</summary>
    public static Func<RewardContext, double> LengthPenalty(int maxTokens, double weight = 1.0)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxTokens, 1);
        return c => -weight * c.Completion.Length / maxTokens;
    }

    [GeneratedRegex(@"-?\d[\d,]*(\.\d+)?", RegexOptions.CultureInvariant)]
    private static partial Regex NumberPattern();

    [GeneratedRegex(@"^\s*(?:<think>)?(?:(?!</?think>).)*</think>(?:(?!</?think>).)*(?!</?think>)\S(?:(?!</?think>).)*$", RegexOptions.Singleline | RegexOptions.CultureInvariant)]
    private static partial Regex ThinkPattern();
}
