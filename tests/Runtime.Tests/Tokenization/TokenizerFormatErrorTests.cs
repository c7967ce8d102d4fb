using System.Text.Json.Nodes;
using DeepSeek.Runtime.Tokenization;

namespace DeepSeek.Runtime.Tests.Tokenization;

/// <summary>Malformed tokenizer.json files fail with <see cref="TokenizerFormatException"/> naming the JSON path.</summary>
public class TokenizerFormatErrorTests
{
    private static TokenizerFormatException Fails(Action<JsonObject> mutate)
    {
        var json = TinyTokenizerJson.Build();
        mutate(json);
        return Assert.Throws<TokenizerFormatException>(() => BpeTokenizer.FromJson(json.ToJsonString()));
    }

    private static JsonObject Pre(JsonObject j, int i) => j["pre_tokenizer"]!["pretokenizers"]![i]!.AsObject();

    [Fact]
    public void The_tiny_fixture_itself_loads_and_encodes()
    {
        var t = BpeTokenizer.FromJson(TinyTokenizerJson.Build().ToJsonString());
        Assert.Equal(t.TokenToId("hello"), t.Encode("hello")[0]);
        Assert.Equal("hello world<|end|>", t.Decode(t.Encode("hello world<|end|>")));
    }

    [Fact]
    public void Invalid_json_names_the_root() =>
        Assert.Equal("", Assert.Throws<TokenizerFormatException>(() => BpeTokenizer.FromJson("{\"model\": ")).JsonPath);

    [Fact]
    public void Missing_model() => Assert.Equal("model", Fails(j => j.Remove("model")).JsonPath);

    [Fact]
    public void Unknown_model_type() => Assert.Equal("model.type", Fails(j => j["model"]!["type"] = "Unigram").JsonPath);

    [Fact]
    public void Byte_fallback_is_rejected_clearly()
    {
        var e = Fails(j => j["model"]!["byte_fallback"] = true);
        Assert.Equal("model.byte_fallback", e.JsonPath);
        Assert.Contains("byte_fallback", e.Message);
    }

    [Fact]
    public void Merge_token_not_in_vocabulary() =>
        Assert.Equal("model.merges[1]", Fails(j => j["model"]!["merges"]![1] = "l zzz").JsonPath);

    [Fact]
    public void Merge_of_wrong_shape() =>
        Assert.Equal("model.merges[0]", Fails(j => j["model"]!["merges"]![0] = new JsonArray("h", "e", "l")).JsonPath);

    [Fact]
    public void Merge_without_a_space() =>
        Assert.Equal("model.merges[2]", Fails(j => j["model"]!["merges"]![2] = "hell").JsonPath);

    [Fact]
    public void Merges_as_pairs_are_accepted()
    {
        var json = TinyTokenizerJson.Build();
        var merges = json["model"]!["merges"]!.AsArray();
        var pairs = new JsonArray([.. merges.Select(m => (JsonNode)new JsonArray([.. m!.GetValue<string>().Split(' ').Select(s => (JsonNode)JsonValue.Create(s)!)]))]);
        json["model"]!["merges"] = pairs;
        var t = BpeTokenizer.FromJson(json.ToJsonString());
        Assert.Single(t.Encode("hello"));
    }

    [Fact]
    public void Invalid_regex_names_its_path()
    {
        var e = Fails(j => Pre(j, 0)["pattern"]!["Regex"] = "(unclosed");
        Assert.Equal("pre_tokenizer.pretokenizers[0].pattern.Regex", e.JsonPath);
        Assert.Contains("(unclosed", e.Message);
    }

    [Fact]
    public void Regex_with_an_astral_literal_is_refused() =>
        Assert.Equal("pre_tokenizer.pretokenizers[0].pattern.Regex", Fails(j => Pre(j, 0)["pattern"]!["Regex"] = "😀+").JsonPath);

    [Fact]
    public void Regex_naming_a_category_stand_in_is_refused() =>
        Assert.Contains("reserves", Fails(j => Pre(j, 0)["pattern"]!["Regex"] = "[\\uA000-\\uA0FF]").Message);

    [Fact]
    public void Unknown_pre_tokenizer() =>
        Assert.Equal("pre_tokenizer.pretokenizers[1].type", Fails(j => Pre(j, 1)["type"] = "Whitespace").JsonPath);

    [Fact]
    public void Unknown_split_behavior() =>
        Assert.Equal("pre_tokenizer.pretokenizers[0].behavior", Fails(j => Pre(j, 0)["behavior"] = "Sideways").JsonPath);

    [Fact]
    public void Unknown_normalizer() => Assert.Equal("normalizer.type", Fails(j => j["normalizer"]!["type"] = "BertNormalizer").JsonPath);

    [Fact]
    public void Unknown_decoder() => Assert.Equal("decoder.type", Fails(j => j["decoder"]!["type"] = "WordPiece").JsonPath);

    [Fact]
    public void Unknown_post_processor() => Assert.Equal("post_processor.type", Fails(j => j["post_processor"]!["type"] = "BertProcessing").JsonPath);

    [Fact]
    public void Added_token_without_id() =>
        Assert.Equal("added_tokens[0].id", Fails(j => j["added_tokens"]![0]!.AsObject().Remove("id")).JsonPath);

    [Fact]
    public void Vocabulary_id_of_wrong_type() =>
        Assert.Equal("model.vocab.h", Fails(j => j["model"]!["vocab"]!["h"] = "seven").JsonPath);
}
