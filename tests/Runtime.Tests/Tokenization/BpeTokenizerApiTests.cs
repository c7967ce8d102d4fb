using System.Text;
using DeepSeek.Runtime.Tokenization;

namespace DeepSeek.Runtime.Tests.Tokenization;

public class BpeTokenizerApiTests
{
    private static BpeTokenizer DeepSeek => TokenizerTestData.DeepSeekV3;

    [Fact]
    public void Vocabulary_and_special_tokens_of_deepseek_v3()
    {
        Assert.Equal(128815, DeepSeek.VocabSize);
        var folder = BpeTokenizer.FromDirectory(TokenizerTestData.Dir("deepseek-v3"));   // tokenizer_config.json names BOS/EOS
        Assert.Equal(0, folder.BosTokenId);
        Assert.Equal(1, folder.EosTokenId);
        Assert.True(folder.AddBosToken);
        Assert.Null(DeepSeek.BosTokenId);
        Assert.Equal(0, DeepSeek.TokenToId("<｜begin▁of▁sentence｜>"));
        Assert.Equal("<｜tool▁calls▁begin｜>", DeepSeek.IdToToken(DeepSeek.TokenToId("<｜tool▁calls▁begin｜>")!.Value));
        Assert.True(DeepSeek.IsSpecialToken(1));
        Assert.False(DeepSeek.IsSpecialToken(DeepSeek.TokenToId("Hello")!.Value));
        Assert.Null(DeepSeek.TokenToId("definitely not a token"));
        Assert.Null(DeepSeek.IdToToken(-1));
        Assert.Null(DeepSeek.IdToToken(DeepSeek.VocabSize));
    }

    [Fact]
    public void Think_tags_are_plain_text_in_v3() => Assert.True(DeepSeek.Encode("<think>").Count > 1);

    [Fact]
    public void Digits_split_in_threes() =>
        Assert.Equal(["123", "456", "7"], DeepSeek.Encode("1234567").Select(id => DeepSeek.IdToToken(id)!).ToArray());

    [Fact]
    public void Astral_letters_are_letters_for_the_pre_tokenizer()
    {
        // With surrogate-pair matching, 𝐀 would fall out of the \p{L} alternatives and split differently.
        var ids = DeepSeek.Encode("a𝐀b");
        Assert.Equal("a𝐀b", DeepSeek.Decode(ids));
        var pieces = new List<(int, int)>();
        var regex = ScalarRegex.Compile(@"\p{L}+", "test");
        regex.Matches("a𝐀b 𠀀x", pieces);
        Assert.Equal([(0, 4), (5, 8)], pieces);
    }

    [Fact]
    public void Category_stand_ins_have_the_category_they_stand_for()
    {
        for (var c = 0; c < ScalarRegex.Representatives.Length; c++)
        {
            if (c is (int)System.Globalization.UnicodeCategory.Surrogate) continue;
            Assert.Equal((System.Globalization.UnicodeCategory)c, char.GetUnicodeCategory(ScalarRegex.Representatives[c]));
        }
    }

    [Fact]
    public void Bad_ids_in_decode_name_the_id()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => DeepSeek.Decode([19923, 999_999]));
        Assert.Contains("999999", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => DeepSeek.Decode([-5]));
        Assert.Throws<ArgumentOutOfRangeException>(() => DeepSeek.CreateStreamingDecoder().Add(DeepSeek.VocabSize));
    }

    [Fact]
    public void Skip_special_tokens_drops_them()
    {
        var ids = DeepSeek.Encode("<｜begin▁of▁sentence｜>Hi<｜end▁of▁sentence｜>");
        Assert.Equal([0, ids[1], 1], ids);
        Assert.Equal("Hi", DeepSeek.Decode(ids, skipSpecialTokens: true));
    }

    [Fact]
    public void Streaming_holds_back_a_character_split_across_tokens()
    {
        var ids = DeepSeek.Encode("😀");
        Assert.True(ids.Count > 1, "the emoji should be several byte tokens");
        var stream = DeepSeek.CreateStreamingDecoder();
        var outputs = ids.Select(stream.Add).ToList();
        Assert.All(outputs.Take(outputs.Count - 1), o => Assert.Equal("", o));
        Assert.Equal("😀", outputs[^1]);
        Assert.Equal("", stream.Flush());
    }

    [Fact]
    public void Flush_turns_an_unfinished_character_into_a_replacement_char()
    {
        var ids = DeepSeek.Encode("😀");
        var stream = DeepSeek.CreateStreamingDecoder();
        Assert.Equal("", stream.Add(ids[0]));
        Assert.Equal("\uFFFD", stream.Flush());
    }

    [Theory]
    [InlineData(new byte[] { 0x61, 0xF0, 0x9F }, 1)]
    [InlineData(new byte[] { 0x61, 0xF0, 0x9F, 0x98, 0x80 }, 5)]
    [InlineData(new byte[] { 0xE0, 0x80 }, 2)]   // invalid second byte: nothing can complete it
    [InlineData(new byte[] { 0xC3 }, 0)]
    [InlineData(new byte[] { 0x80 }, 1)]
    public void Complete_prefix_holds_back_only_completable_sequences(byte[] bytes, int expected) =>
        Assert.Equal(expected, StreamingDecoder.CompletePrefix(bytes));

    [Fact]
    public void Cache_stays_bounded_and_does_not_change_results()
    {
        var json = File.ReadAllText(Path.Combine(TokenizerTestData.Dir("qwen2.5"), "tokenizer.json"));
        var small = BpeTokenizer.FromJson(json, cacheCapacity: 16);
        var none = BpeTokenizer.FromJson(json, cacheCapacity: 0);
        var text = string.Join(" ", Enumerable.Range(0, 500).Select(i => $"word{i} 単語{i}"));
        Assert.Equal(none.Encode(text), small.Encode(text));
        Assert.Equal(TokenizerTestData.Qwen25.Encode(text), small.Encode(text));
        Assert.InRange(small.CachedPieces, 1, 16);
        Assert.Equal(0, none.CachedPieces);
    }

    [Fact]
    public void Concurrent_encoding_gives_the_sequential_result()
    {
        var texts = TokenizerTestData.VectorsOf("deepseek-v3").Take(400).ToList();
        var results = new IReadOnlyList<int>[texts.Count];
        Parallel.For(0, texts.Count, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i => results[i] = DeepSeek.Encode(texts[i].Text));
        for (var i = 0; i < texts.Count; i++) Assert.Equal(texts[i].Ids, results[i]);
    }

    [Fact]
    public void Encode_to_a_list_and_count_agree_with_encode()
    {
        const string text = "Hello, 世界! 👋 1234567";
        var list = new List<int> { 42 };
        DeepSeek.EncodeTo(text.AsSpan(), list);
        Assert.Equal([42, .. DeepSeek.Encode(text)], list);
        Assert.Equal(DeepSeek.Encode(text).Count, DeepSeek.CountTokens(text));
        Assert.Empty(DeepSeek.Encode(""));
    }

    [Fact]
    public void From_directory_without_tokenizer_json_says_so()
    {
        using var dir = new TempDir();
        var e = Assert.Throws<FileNotFoundException>(() => BpeTokenizer.FromDirectory(dir.Path));
        Assert.Contains("tokenizer.json", e.Message);
    }

    [Fact]
    public void Bad_tokenizer_config_names_the_key()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("tokenizer.json"), TinyTokenizerJson.Build().ToJsonString());
        File.WriteAllText(dir.File("tokenizer_config.json"), """{"bos_token": "<nope>"}""");
        Assert.Equal("bos_token", Assert.Throws<TokenizerFormatException>(() => BpeTokenizer.FromDirectory(dir.Path)).JsonPath);
        File.WriteAllText(dir.File("tokenizer_config.json"), """{"eos_token": {"content": "<|end|>"}}""");
        Assert.Equal(BpeTokenizer.FromDirectory(dir.Path).TokenToId("<|end|>"), BpeTokenizer.FromDirectory(dir.Path).EosTokenId);
    }

    [Fact]
    public void Decoding_keeps_text_byte_exact_for_every_utf8_length() =>
        Assert.Equal("a é 中 😀 ", DeepSeek.Decode(DeepSeek.Encode("a é 中 😀 ")));

    [Fact]
    public void Lone_surrogates_encode_as_the_replacement_character() =>
        Assert.Equal(DeepSeek.Encode("x\uFFFDy"), DeepSeek.Encode("x\uD800y"));

    private static readonly Encoding Utf8 = new UTF8Encoding(false);

    [Fact]
    public void Every_byte_token_decodes_to_its_byte()
    {
        for (var b = 0; b < 256; b++)
        {
            var id = DeepSeek.TokenToId(ByteLevelAlphabet.ByteToChar[b].ToString());
            Assert.NotNull(id);
            var s = DeepSeek.Decode([id!.Value]);
            Assert.Equal(Utf8.GetString([(byte)b]), s);
        }
    }
}
