using System.Text.Json.Nodes;

namespace DeepSeek.Runtime.Tests.Tokenization;

/// <summary>A small valid byte-level tokenizer.json (Qwen2-style regex, NFC) to mutate in error and property tests.</summary>
public static class TinyTokenizerJson
{
    public static JsonObject Build()
    {
        var chars = new List<char>();
        var next = 0;
        for (var b = 0; b < 256; b++)
        {
            var printable = b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
            chars.Add(printable ? (char)b : (char)(256 + next++));
        }
        var vocab = new JsonObject();
        for (var i = 0; i < 256; i++) vocab[chars[i].ToString()] = i;
        var merges = new JsonArray();
        foreach (var (a, b) in new[] { ("h", "e"), ("l", "l"), ("he", "ll"), ("hell", "o"), ("Ġ", "w"), ("o", "r"), ("Ġw", "or") })
        {
            if (vocab[a + b] is null) vocab[a + b] = vocab.Count;
            merges.Add($"{a} {b}");
        }
        return new JsonObject
        {
            ["version"] = "1.0",
            ["added_tokens"] = new JsonArray(new JsonObject { ["id"] = vocab.Count, ["content"] = "<|end|>", ["special"] = true, ["normalized"] = false }),
            ["normalizer"] = new JsonObject { ["type"] = "NFC" },
            ["pre_tokenizer"] = new JsonObject
            {
                ["type"] = "Sequence",
                ["pretokenizers"] = new JsonArray(
                    new JsonObject
                    {
                        ["type"] = "Split",
                        ["pattern"] = new JsonObject { ["Regex"] = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+" },
                        ["behavior"] = "Isolated",
                        ["invert"] = false,
                    },
                    new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["use_regex"] = false }),
            },
            ["post_processor"] = new JsonObject { ["type"] = "ByteLevel" },
            ["decoder"] = new JsonObject { ["type"] = "ByteLevel" },
            ["model"] = new JsonObject { ["type"] = "BPE", ["vocab"] = vocab, ["merges"] = merges },
        };
    }
}
