using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace DeepSeek.Runtime.Tokenization;

/// <summary>
/// A pre-tokenizer regex that matches on Unicode scalar values, as the Rust <c>onig</c> regexes of Hugging Face
/// <c>tokenizers</c> do, built on .NET's (UTF-16) <see cref="Regex"/> by transcoding.
/// </summary>
/// <remarks>
/// .NET regexes see an astral character (𝐀, 𠀀, 😀) as two surrogate code units, which no <c>\p{L}</c>/<c>\p{S}</c>
/// class matches. Input without surrogates is matched directly (the common case, no cost). Input with surrogates is
/// transcoded to one UTF-16 unit per scalar value: every astral scalar is replaced by a fixed BMP
/// <em>representative</em> of the same Unicode general category (<see cref="Representatives"/>), the match runs on
/// that, and match boundaries map back through an index table. This is exact for every construct whose outcome
/// depends only on the general category of a character — <c>\p{…}</c>/<c>\P{…}</c>, <c>\s</c>/<c>\S</c> (no astral
/// white space exists), <c>\d</c>, <c>\w</c>, <c>.</c>, negated classes — provided no literal character or range of
/// the pattern covers a representative; <see cref="Compile"/> checks that, and rejects patterns with astral
/// literals, so a pattern for which the trick would not be exact is refused rather than silently mis-matched.
/// </remarks>
internal sealed class ScalarRegex
{
    private readonly Regex _regex;

    private ScalarRegex(Regex regex) => _regex = regex;

    /// <summary>The pattern as written in <c>tokenizer.json</c>.</summary>
    public string Pattern => _regex.ToString();

    /// <summary>BMP stand-ins, indexed by <see cref="UnicodeCategory"/>; each has exactly that category.</summary>
    internal static readonly char[] Representatives =
    [
        '\uA640', // UppercaseLetter (Cyrillic capital zemlya)
        '\uA641', // LowercaseLetter
        '\u01C5', // TitlecaseLetter
        '\uA67F', // ModifierLetter
        '\uA000', // OtherLetter (Yi syllable)
        '\uA66F', // NonSpacingMark
        '\u0903', // SpacingCombiningMark
        '\u20DD', // EnclosingMark
        '\uA620', // DecimalDigitNumber (Vai digit zero)
        '\u16EE', // LetterNumber (runic)
        '\uA830', // OtherNumber (North Indic fraction)
        '\u2000', // SpaceSeparator (no astral one exists)
        '\u2028', // LineSeparator
        '\u2029', // ParagraphSeparator
        '\u0081', // Control
        '\u2061', // Format
        '\uFDD0', // Surrogate: never asked for a scalar value; a noncharacter keeps it inert
        '\uE000', // PrivateUse
        '\u203F', // ConnectorPunctuation
        '\u2010', // DashPunctuation
        '\u2045', // OpenPunctuation
        '\u2046', // ClosePunctuation
        '\u2E02', // InitialQuotePunctuation
        '\u2E03', // FinalQuotePunctuation
        '\uA60D', // OtherPunctuation (Vai comma)
        '\u2A00', // MathSymbol
        '\u20A0', // CurrencySymbol
        '\uA720', // ModifierSymbol
        '\uA490', // OtherSymbol (Yi radical)
        '\uFDD0', // OtherNotAssigned (noncharacter)
    ];

    /// <summary>Compiles <paramref name="pattern"/>; errors name <paramref name="jsonPath"/>.</summary>
    public static ScalarRegex Compile(string pattern, string jsonPath)
    {
        foreach (var (lo, hi) in PatternLiterals.Collect(pattern, jsonPath))
        {
            if (hi > 0xFFFF)
                throw new TokenizerFormatException($"regex /{pattern}/ names an astral-plane character; such literals are not supported", jsonPath);
            foreach (var rep in Representatives)
            {
                if (Covers(lo, hi, rep))
                    throw new TokenizerFormatException(
                        $"regex /{pattern}/ names U+{(int)rep:X4}, which the scalar-value matcher reserves as a category stand-in", jsonPath);
            }
        }
        try
        {
            var regex = new Regex(pattern, RegexOptions.Compiled | RegexOptions.CultureInvariant, TimeSpan.FromSeconds(10));
            return new ScalarRegex(regex);
        }
        catch (ArgumentException e)
        {
            throw new TokenizerFormatException($"invalid regex /{pattern}/: {e.Message}", jsonPath, inner: e);
        }
    }

    private static bool Covers(int lo, int hi, char rep)
    {
        foreach (var c in new[] { rep, char.ToUpperInvariant(rep), char.ToLowerInvariant(rep) })
        {
            if (c >= lo && c <= hi) return true;
        }
        return false;
    }

    /// <summary>The category stand-in for an astral scalar value.</summary>
    public static char Representative(Rune rune) => Representatives[(int)Rune.GetUnicodeCategory(rune)];

    /// <summary>
    /// Appends every match of the regex in <paramref name="input"/> as (start, end) UTF-16 offsets of
    /// <paramref name="input"/>, in order. Lone surrogates must already have been replaced.
    /// </summary>
    public void Matches(ReadOnlySpan<char> input, List<(int Start, int End)> output)
    {
        if (input.IndexOfAnyInRange('\uD800', '\uDFFF') < 0)
        {
            foreach (var m in _regex.EnumerateMatches(input)) output.Add((m.Index, m.Index + m.Length));
            return;
        }
        var transcoded = new char[input.Length];
        var toOriginal = new int[input.Length + 1];
        var n = 0;
        for (var i = 0; i < input.Length;)
        {
            toOriginal[n] = i;
            if (char.IsHighSurrogate(input[i]) && i + 1 < input.Length && char.IsLowSurrogate(input[i + 1]))
            {
                transcoded[n++] = Representative(new Rune(input[i], input[i + 1]));
                i += 2;
            }
            else
            {
                transcoded[n++] = input[i++];
            }
        }
        toOriginal[n] = input.Length;
        foreach (var m in _regex.EnumerateMatches(transcoded.AsSpan(0, n)))
            output.Add((toOriginal[m.Index], toOriginal[m.Index + m.Length]));
    }
}
