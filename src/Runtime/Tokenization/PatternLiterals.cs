using System.Globalization;

namespace DeepSeek.Runtime.Tokenization;

/// <summary>
/// Collects the literal characters and character-class ranges a regex pattern names (<c>a</c>, <c>\u4e00-\u9fa5</c>,
/// <c>\x{1F600}</c>), as inclusive code-point ranges. Classes by property (<c>\p{L}</c>, <c>\s</c>) are not literals.
/// Used by <see cref="ScalarRegex"/> to prove its transcoding exact for a pattern.
/// </summary>
internal static class PatternLiterals
{
    public static List<(int Lo, int Hi)> Collect(string pattern, string jsonPath)
    {
        var ranges = new List<(int, int)>();
        var inClass = false;
        int? pendingLo = null; // a class literal that may start a range
        var i = 0;
        while (i < pattern.Length)
        {
            int? literal = null;
            var c = pattern[i];
            if (c == '\\' && i + 1 < pattern.Length)
            {
                var e = pattern[i + 1];
                i += 2;
                switch (e)
                {
                    case 'p' or 'P':
                        if (i < pattern.Length && pattern[i] == '{')
                        {
                            var close = pattern.IndexOf('}', i);
                            i = close < 0 ? pattern.Length : close + 1;
                        }
                        else i++;
                        break;
                    case 'u':
                        literal = Hex(pattern, ref i, 4, jsonPath);
                        break;
                    case 'x':
                        if (i < pattern.Length && pattern[i] == '{')
                        {
                            var close = pattern.IndexOf('}', i);
                            if (close < 0) throw new TokenizerFormatException($"invalid regex /{pattern}/: unterminated \\x{{", jsonPath);
                            var start = i + 1;
                            i = start;
                            literal = Hex(pattern, ref i, close - start, jsonPath);
                            i = close + 1;
                        }
                        else literal = Hex(pattern, ref i, 2, jsonPath);
                        break;
                    case 'n': literal = '\n'; break;
                    case 'r': literal = '\r'; break;
                    case 't': literal = '\t'; break;
                    case 'f': literal = '\f'; break;
                    case 'v': literal = '\v'; break;
                    case 'e': literal = 0x1B; break;
                    default:
                        if (!char.IsAsciiLetterOrDigit(e)) literal = e; // escaped punctuation is literal
                        break;
                }
            }
            else
            {
                if (char.IsHighSurrogate(c) && i + 1 < pattern.Length && char.IsLowSurrogate(pattern[i + 1]))
                {
                    literal = char.ConvertToUtf32(c, pattern[i + 1]);
                    i += 2;
                }
                else
                {
                    i++;
                    if (inClass && c == ']') { inClass = false; Flush(); continue; }
                    if (!inClass && c == '[')
                    {
                        inClass = true;
                        if (i < pattern.Length && pattern[i] == '^') i++;
                        if (i < pattern.Length && pattern[i] == ']') { ranges.Add((']', ']')); i++; }
                        continue;
                    }
                    if (inClass && c == '-' && pendingLo is not null && i < pattern.Length && pattern[i] != ']')
                    {
                        var lo = pendingLo.Value;
                        pendingLo = null;
                        var hi = ReadClassEnd(pattern, ref i, jsonPath);
                        ranges.Add((lo, Math.Max(lo, hi)));
                        continue;
                    }
                    if (!inClass && c is '(' or ')' or '|' or '*' or '+' or '?' or '{' or '}' or '.' or '^' or '$') { continue; }
                    literal = c;
                }
            }
            Flush();
            if (literal is { } l)
            {
                if (inClass) pendingLo = l;
                else ranges.Add((l, l));
            }
        }
        Flush();
        return ranges;

        void Flush()
        {
            if (pendingLo is { } p) ranges.Add((p, p));
            pendingLo = null;
        }
    }

    private static int ReadClassEnd(string pattern, ref int i, string jsonPath)
    {
        var c = pattern[i];
        if (c == '\\' && i + 1 < pattern.Length)
        {
            var e = pattern[i + 1];
            i += 2;
            return e switch
            {
                'u' => Hex(pattern, ref i, 4, jsonPath),
                'n' => '\n',
                'r' => '\r',
                't' => '\t',
                _ => e,
            };
        }
        if (char.IsHighSurrogate(c) && i + 1 < pattern.Length)
        {
            i += 2;
            return char.ConvertToUtf32(c, pattern[i - 1]);
        }
        i++;
        return c;
    }

    private static int Hex(string pattern, ref int i, int digits, string jsonPath)
    {
        if (digits <= 0 || i + digits > pattern.Length ||
            !int.TryParse(pattern.AsSpan(i, digits), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var value))
            throw new TokenizerFormatException($"invalid regex /{pattern}/: bad hex escape at index {i}", jsonPath);
        i += digits;
        return value;
    }
}
