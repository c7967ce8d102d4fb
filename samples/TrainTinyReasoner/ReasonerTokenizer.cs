using System.Text;
using System.Text.Json.Nodes;

namespace TrainTinyReasoner;

/// <summary>
/// Writes the reasoner's <c>tokenizer.json</c> and <c>tokenizer_config.json</c>: DeepSeek-V3's normalizer, pre-tokenizer
/// and decoder, a byte-level BPE whose merges only build a handful of words (never digits, so every digit is one token,
/// which keeps column arithmetic learnable), DeepSeek's special tokens and R1's chat template.
/// </summary>
internal static class ReasonerTokenizer
{
    // Words the merges spell out (byte-level, 'Ġ' is a leading space). The task's phrasings and the chat's commonest words.
    private static readonly string[] Words =
    [
        "What", "Ġis", "Calculate", "ĊĊ", "Ġ+", "Ġ-", "Ġ*", "Ġ=", "Ġ?", "?", "Ġthe", "Ġanswer", "Ġa", "Ġof", "Ġand", "Ġto", "Hello",
        "Ġyou", "Ġwhat", "Ġhow", "Ġplus", "Ġminus", "Ġtimes",
    ];

    private static readonly (string Content, bool Special, bool Normalized)[] Leading =
    [
        ("<｜begin▁of▁sentence｜>", true, false), ("<｜end▁of▁sentence｜>", true, false), ("<｜▁pad▁｜>", true, false),
    ];

    private static readonly string[] Trailing =
    [
        "<｜User｜>", "<｜Assistant｜>", "<think>", "</think>",
        "<｜tool▁calls▁begin｜>", "<｜tool▁calls▁end｜>", "<｜tool▁call▁begin｜>", "<｜tool▁call▁end｜>",
        "<｜tool▁outputs▁begin｜>", "<｜tool▁outputs▁end｜>", "<｜tool▁output▁begin｜>", "<｜tool▁output▁end｜>", "<｜tool▁sep｜>",
    ];

    /// <summary>Writes both files into <paramref name="directory"/>; returns the tokenizer's size (ids 0..size-1).</summary>
    public static int Write(string directory, string chatTemplate)
    {
        var vocab = new JsonObject();
        var added = new JsonArray();
        var id = 0;
        foreach (var (content, special, normalized) in Leading) added.Add(AddedToken(id++, content, special, normalized));
        var alphabet = ByteAlphabet();
        foreach (var c in alphabet) vocab[c.ToString()] = id++;
        var merges = new JsonArray();
        foreach (var word in Words)
        {
            var left = word[..1];
            for (var i = 1; i < word.Length; i++)
            {
                var right = word[i].ToString();
                var merged = left + right;
                if (!vocab.ContainsKey(merged))
                {
                    merges.Add(new JsonArray(left, right));
                    vocab[merged] = id++;
                }
                left = merged;
            }
        }
        foreach (var content in Trailing) added.Add(AddedToken(id++, content, special: false, normalized: true));

        var root = new JsonObject
        {
            ["version"] = "1.0",
            ["truncation"] = null,
            ["padding"] = null,
            ["added_tokens"] = added,
            ["normalizer"] = new JsonObject { ["type"] = "Sequence", ["normalizers"] = new JsonArray() },
            ["pre_tokenizer"] = JsonNode.Parse("""
                {"type":"Sequence","pretokenizers":[
                  {"type":"Split","pattern":{"Regex":"\\p{N}{1,3}"},"behavior":"Isolated","invert":false},
                  {"type":"Split","pattern":{"Regex":"[一-龥぀-ゟ゠-ヿ]+"},"behavior":"Isolated","invert":false},
                  {"type":"Split","pattern":{"Regex":"[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+"},"behavior":"Isolated","invert":false},
                  {"type":"ByteLevel","add_prefix_space":false,"trim_offsets":true,"use_regex":false}]}
                """),
            ["post_processor"] = JsonNode.Parse("""{"type":"ByteLevel","add_prefix_space":true,"trim_offsets":false,"use_regex":true}"""),
            ["decoder"] = JsonNode.Parse("""{"type":"ByteLevel","add_prefix_space":true,"trim_offsets":true,"use_regex":true}"""),
            ["model"] = new JsonObject
            {
                ["type"] = "BPE",
                ["dropout"] = null,
                ["unk_token"] = null,
                ["continuing_subword_prefix"] = null,
                ["end_of_word_suffix"] = null,
                ["fuse_unk"] = false,
                ["byte_fallback"] = false,
                ["vocab"] = vocab,
                ["merges"] = merges,
            },
        };
        File.WriteAllText(Path.Combine(directory, "tokenizer.json"), root.ToJsonString(new() { WriteIndented = false }) + "\n", new UTF8Encoding(false));

        var config = new JsonObject
        {
            ["add_bos_token"] = true,
            ["add_eos_token"] = false,
            ["bos_token"] = Token(Leading[0].Content),
            ["eos_token"] = Token(Leading[1].Content),
            ["pad_token"] = Token(Leading[1].Content),
            ["clean_up_tokenization_spaces"] = false,
            ["legacy"] = true,
            ["model_max_length"] = 1024,
            ["unk_token"] = null,
            ["tokenizer_class"] = "LlamaTokenizerFast",
            ["chat_template"] = chatTemplate,
        };
        File.WriteAllText(Path.Combine(directory, "tokenizer_config.json"), config.ToJsonString(new() { WriteIndented = true }) + "\n", new UTF8Encoding(false));
        return id;
    }

    private static JsonObject AddedToken(int id, string content, bool special, bool normalized) => new()
    {
        ["id"] = id,
        ["content"] = content,
        ["single_word"] = false,
        ["lstrip"] = false,
        ["rstrip"] = false,
        ["normalized"] = normalized,
        ["special"] = special,
    };

    private static JsonObject Token(string content) => new()
    {
        ["__type"] = "AddedToken",
        ["content"] = content,
        ["lstrip"] = false,
        ["normalized"] = true,
        ["rstrip"] = false,
        ["single_word"] = false,
    };

    // GPT-2's byte-to-character table: printable bytes map to themselves, the rest to U+0100 onwards, in byte order.
    private static char[] ByteAlphabet()
    {
        var table = new char[256];
        var next = 256;
        for (var b = 0; b < 256; b++)
        {
            var printable = b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
            table[b] = printable ? (char)b : (char)next++;
        }
        return table;
    }
}
