using System.Text;
using DeepSeek.Runtime.Tokenization;
using FsCheck;
using FsCheck.Fluent;

namespace DeepSeek.Runtime.Tests.Tokenization;

/// <summary>Random text never makes encoding throw and round-trips; random damage to tokenizer.json fails typed.</summary>
public class TokenizerPropertyTests
{
    private static readonly char[] Interesting =
        ['a', 'Z', ' ', '\t', '\n', '\r', '7', '.', '\'', '<', '｜', '▁', '>', 'é', '\u0301', '中', 'ア', '한', 'م', '\u00A0', '\u200B', '\u200D', '\uD835', '\uDC00', '\uD83D', '\uDE00', '\uFFFD'];

    private static Arbitrary<string> Texts()
    {
        var unit = Gen.OneOf(
            Gen.Elements(Interesting),
            Gen.Choose(0, 0xFFFF).Select(i => (char)i),
            Gen.Elements("<｜User｜>", "<｜end▁of▁sentence｜>", "𝐀", "😀", "👨‍👩‍👧", "1234", "   ", "\r\n").SelectMany(s => Gen.Constant(s[0])));
        var pieces = Gen.OneOf(
            Gen.Elements("<｜User｜>", "<｜end▁of▁sentence｜>", "𝐀𝐁", "𠀀", "😀", "👨‍👩‍👧‍👦", "🇺🇸", "1234567", "   ", "\r\n", "e\u0301", "<｜tool▁sep｜>"),
            unit.Select(c => c.ToString()));
        return Gen.ListOf(pieces).Select(p => string.Concat(p)).ToArbitrary();
    }

    [Fact]
    public void DeepSeek_encode_never_throws_and_round_trips_valid_text()
    {
        var t = TokenizerTestData.DeepSeekV3;
        Prop.ForAll(Texts(), s =>
        {
            var ids = t.Encode(s);
            var decoded = t.Decode(ids);
            var sanitized = BpeTokenizer.Sanitize(s);
            return decoded == sanitized && (sanitized == s || s.Any(char.IsSurrogate));
        }).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void Qwen_round_trips_to_the_nfc_form()
    {
        var t = TokenizerTestData.Qwen25;
        Prop.ForAll(Texts(), s =>
        {
            var expected = BpeTokenizer.Sanitize(s).Normalize(NormalizationForm.FormC);
            return t.Decode(t.Encode(s)) == expected;
        }).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void Streaming_decode_equals_whole_decode_and_never_splits_a_character()
    {
        var t = TokenizerTestData.DeepSeekV3;
        Prop.ForAll(Texts(), s =>
        {
            var ids = t.Encode(s);
            var stream = t.CreateStreamingDecoder();
            var sb = new StringBuilder();
            foreach (var id in ids)
            {
                var piece = stream.Add(id);
                if (piece.Length > 0 && char.IsHighSurrogate(piece[^1])) return false;
                sb.Append(piece);
            }
            sb.Append(stream.Flush());
            return sb.ToString() == t.Decode(ids);
        }).QuickCheckThrowOnFailure();
    }

    private static readonly string Tiny = TinyTokenizerJson.Build().ToJsonString();

    private static Arbitrary<string> Mutations()
    {
        var gen =
            from kind in Gen.Choose(0, 4)
            from at in Gen.Choose(0, Tiny.Length - 1)
            from len in Gen.Choose(1, 40)
            from c in Gen.Elements('"', '{', '}', '[', ']', ',', ':', '0', '9', '-', 'x', ' ', '\\', 'n', 'u')
            select kind switch
            {
                0 => Tiny[..at],                                                   // truncate
                1 => Tiny[..at] + c + Tiny[(at + 1)..],                            // replace a character
                2 => Tiny.Remove(at, Math.Min(len, Tiny.Length - at)),             // delete a run
                3 => Tiny.Insert(at, c.ToString()),                                // insert a character
                _ => Tiny.Replace("\"type\":\"", "\"type\":\"X", StringComparison.Ordinal), // rename every component type
            };
        return gen.ToArbitrary();
    }

    [Fact]
    public void Damaged_tokenizer_json_fails_only_with_TokenizerFormatException()
    {
        Prop.ForAll(Mutations(), json =>
        {
            try
            {
                var t = BpeTokenizer.FromJson(json);
                t.Decode(t.Encode("hello world 123 <|end|> 😀"));
                return true;
            }
            catch (TokenizerFormatException)
            {
                return true;
            }
        }).QuickCheckThrowOnFailure();
    }
}
