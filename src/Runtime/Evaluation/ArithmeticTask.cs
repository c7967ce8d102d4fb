using System.Globalization;
using System.Text.RegularExpressions;

namespace DeepSeek.Runtime.Evaluation;

/// <summary>Which problems a sample is drawn from: the training split or the held-out evaluation split.</summary>
public enum ArithmeticSplit
{
    /// <summary>Problems used for SFT and GRPO.</summary>
    Train,

    /// <summary>Problems never used in training (a fixed eighth of all problems, chosen by a hash of the problem).</summary>
    HeldOut,
}

/// <summary>
/// The seeded generator of the arithmetic task: multi-digit addition and subtraction and multiplication by one digit.
/// Every problem belongs to exactly one split by a hash of <c>(a, op, b)</c>, so the held-out set is disjoint from
/// anything training can ever draw, whatever the seeds and sizes.
/// </summary>
public static partial class ArithmeticTask
{
    /// <summary>The task's name on the command line (<c>deepseek eval --task arithmetic</c>).</summary>
    public const string Name = "arithmetic";

    /// <summary>
    /// Draws <paramref name="count"/> problems of <paramref name="split"/>: operation uniform, each operand's digit count
    /// uniform in [1, <paramref name="maxDigits"/>] (the multiplier is one digit 2–9), digits uniform without leading zeros.
    /// Deterministic for a seed.
    /// </summary>
    public static IReadOnlyList<ArithmeticProblem> Sample(int count, int seed, ArithmeticSplit split, int maxDigits, int minDigits = 1)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfLessThan(minDigits, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxDigits, minDigits);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maxDigits, 15);
        var rng = new Random(seed);
        var problems = new List<ArithmeticProblem>(count);
        while (problems.Count < count)
        {
            var op = (ArithmeticOperation)rng.Next(3);
            // The longer operand has a length in [minDigits, maxDigits]; the other one any length up to it for + and -.
            var length = rng.Next(minDigits, maxDigits + 1);
            var a = Number(rng, length);
            var b = op == ArithmeticOperation.MultiplyByDigit ? rng.Next(2, 10) : Number(rng, rng.Next(1, maxDigits + 1));
            if (op != ArithmeticOperation.MultiplyByDigit && rng.Next(2) == 0) (a, b) = (b, a);
            var p = new ArithmeticProblem(a, op, b);
            if (p.Length < minDigits || p.Length > maxDigits || SplitOf(p) != split) continue;
            problems.Add(p);
        }
        return problems;
    }

    /// <summary>The split a problem belongs to (a fixed eighth is held out).</summary>
    public static ArithmeticSplit SplitOf(ArithmeticProblem problem)
    {
        ArgumentNullException.ThrowIfNull(problem);
        // SplitMix64 of the problem's fields: stable across runs, platforms and .NET versions (string.GetHashCode is not).
        var z = unchecked((ulong)problem.A * 0x9E3779B97F4A7C15UL ^ (ulong)problem.B * 0xBF58476D1CE4E5B9UL ^ (ulong)problem.Operation * 0x94D049BB133111EBUL);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        z ^= z >> 31;
        return z % 8 == 0 ? ArithmeticSplit.HeldOut : ArithmeticSplit.Train;
    }

    /// <summary>
    /// Parses a question in any of the phrasings the task uses (<c>What is 4821 + 937?</c>), or null when the text asks
    /// no arithmetic question the task knows.
    /// </summary>
    public static ArithmeticProblem? Parse(string question)
    {
        ArgumentNullException.ThrowIfNull(question);
        var m = QuestionPattern().Match(question);
        if (!m.Success) return null;
        if (!long.TryParse(m.Groups["a"].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var a)
            || !long.TryParse(m.Groups["b"].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var b)) return null;
        var op = m.Groups["op"].Value switch
        {
            "+" => ArithmeticOperation.Add,
            "-" => ArithmeticOperation.Subtract,
            _ => ArithmeticOperation.MultiplyByDigit,
        };
        return op == ArithmeticOperation.MultiplyByDigit && b > 9 ? null : new ArithmeticProblem(a, op, b);
    }

    /// <summary>
    /// Grades a completion (the text generated after the generation prompt, which already opened <c>&lt;think&gt;</c>):
    /// the format is right when the reasoning closes with <c>&lt;/think&gt;</c> and a non-empty answer follows; the answer is
    /// right when the last number after <c>&lt;/think&gt;</c> equals the result exactly.
    /// </summary>
    public static (bool Correct, bool WellFormed) Grade(ArithmeticProblem problem, string completion)
    {
        ArgumentNullException.ThrowIfNull(problem);
        ArgumentNullException.ThrowIfNull(completion);
        var close = completion.IndexOf("</think>", StringComparison.Ordinal);
        if (close < 0) return (false, false);
        var answer = completion[(close + "</think>".Length)..];
        var wellFormed = !completion.AsSpan(0, close).Contains("<think>", StringComparison.Ordinal)
            && answer.AsSpan().Trim().Length > 0
            && !answer.Contains("</think>", StringComparison.Ordinal);
        return (FinalAnswer(completion) == problem.Result, wellFormed);
    }

    /// <summary>
    /// The last whole number after the first <c>&lt;/think&gt;</c> of a completion (a leading '-' counts when it is not
    /// part of an operator between digits), or null when there is no closed reasoning or no number after it.
    /// </summary>
    public static long? FinalAnswer(string completion)
    {
        ArgumentNullException.ThrowIfNull(completion);
        var close = completion.IndexOf("</think>", StringComparison.Ordinal);
        if (close < 0) return null;
        var numbers = NumberPattern().Matches(completion, close + "</think>".Length);
        return numbers.Count > 0 && long.TryParse(numbers[^1].Value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var got) ? got : null;
    }

    private static long Number(Random rng, int digits)
    {
        if (digits == 1) return rng.Next(10);
        long v = rng.Next(1, 10);
        for (var i = 1; i < digits; i++) v = v * 10 + rng.Next(10);
        return v;
    }

    // The answer sentence is "a op b = r": the last number is r (a leading '-' belongs to it only after '=' or a space).
    [GeneratedRegex(@"(?<![0-9])-?[0-9]+", RegexOptions.CultureInvariant)]
    private static partial Regex NumberPattern();

    [GeneratedRegex(@"(?<a>[0-9]{1,15})\s*(?<op>[-+*×x])\s*(?<b>[0-9]{1,15})", RegexOptions.CultureInvariant)]
    private static partial Regex QuestionPattern();
}
