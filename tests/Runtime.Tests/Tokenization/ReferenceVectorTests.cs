using System.Text;
using System.Text.Json;
using DeepSeek.Runtime.Tokenization;

namespace DeepSeek.Runtime.Tests.Tokenization;

/// <summary>
/// Every committed string must encode to exactly the ids Hugging Face's Rust tokenizer gave (with and without
/// special tokens), and decode — whole, skipping specials, and streamed id by id — to exactly its decoded text.
/// </summary>
public class ReferenceVectorTests
{
    private static void AssertMatchesReference(BpeTokenizer tokenizer, List<ReferenceVector> vectors, string name, int minimum)
    {
        Assert.True(vectors.Count >= minimum, $"{name}: only {vectors.Count} vectors");
        var failures = new List<string>();
        foreach (var v in vectors)
        {
            var problem = Check(tokenizer, v);
            if (problem is not null) failures.Add($"{Show(v.Text)}: {problem}");
        }
        Assert.True(failures.Count == 0, $"{name}: {failures.Count} of {vectors.Count} differ from the Rust tokenizer; first:\n{string.Join("\n", failures.Take(8))}");
    }

    private static string? Check(BpeTokenizer t, ReferenceVector v)
    {
        var ids = t.Encode(v.Text);
        if (!ids.SequenceEqual(v.Ids)) return $"ids [{string.Join(",", ids)}] != [{string.Join(",", v.Ids)}]";
        var special = t.Encode(v.Text, addSpecialTokens: true);
        if (!special.SequenceEqual(v.IdsSpecial)) return $"ids with specials [{string.Join(",", special)}] != [{string.Join(",", v.IdsSpecial)}]";
        if (t.CountTokens(v.Text) != v.Ids.Length) return "CountTokens differs";
        var decoded = t.Decode(v.Ids);
        if (decoded != v.Decoded) return $"decoded {Show(decoded)} != {Show(v.Decoded)}";
        var skipped = t.Decode(v.Ids, skipSpecialTokens: true);
        if (skipped != v.DecodedSkip) return $"decoded skipping specials {Show(skipped)} != {Show(v.DecodedSkip)}";
        var stream = t.CreateStreamingDecoder();
        var sb = new StringBuilder();
        foreach (var id in v.Ids)
        {
            var piece = stream.Add(id);
            if (piece.Contains('\uFFFD') && !v.Decoded.Contains('\uFFFD')) return $"streaming yielded a broken character at id {id}";
            sb.Append(piece);
        }
        sb.Append(stream.Flush());
        return sb.ToString() == v.Decoded ? null : $"streamed {Show(sb.ToString())} != {Show(v.Decoded)}";
    }

    private static string Show(string s) => JsonSerializer.Serialize(s.Length > 80 ? s[..80] + "…" : s);

    [Fact]
    public void DeepSeek_v3_matches_the_rust_tokenizer_exactly() =>
        AssertMatchesReference(TokenizerTestData.DeepSeekV3, TokenizerTestData.VectorsOf("deepseek-v3"), "deepseek-v3", 3000);

    [Fact]
    public void Qwen2_5_matches_the_rust_tokenizer_exactly() =>
        AssertMatchesReference(TokenizerTestData.Qwen25, TokenizerTestData.VectorsOf("qwen2.5"), "qwen2.5", 500);

    [Fact]
    public void Synthetic_tokenizers_match_the_rust_tokenizer_exactly()
    {
        var files = TokenizerTestData.SyntheticFiles().ToList();
        Assert.True(files.Count >= 6, "synthetic tokenizers missing");
        foreach (var file in files)
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(file));
            var tokenizer = BpeTokenizer.FromJson(doc.RootElement.GetProperty("tokenizer").GetRawText());
            AssertMatchesReference(tokenizer, TokenizerTestData.Vectors(doc.RootElement), Path.GetFileName(file), 100);
        }
    }

    [Fact]
    public void The_vectors_cover_what_the_issue_asks_for()
    {
        var texts = TokenizerTestData.VectorsOf("deepseek-v3").Select(v => v.Text).ToList();
        foreach (var needle in (string[])["1234567", "3.14159", "👨‍👩‍👧‍👦", "🇺🇸", "\u00A0", "\u200B", "𝐀𝐁", "𠀀", "\r\n", "\t", "e\u0301", "<｜tool▁calls▁begin｜>", "你好", "안녕", "مرحبا", "नमस्ते"])
            Assert.Contains(texts, t => t.Contains(needle, StringComparison.Ordinal));
        Assert.Contains(texts, t => t.Length > 4000);
        Assert.Contains(TokenizerTestData.VectorsOf("deepseek-v3"), v => v.HasLoneSurrogates);
    }
}
