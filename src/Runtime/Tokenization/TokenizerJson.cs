using System.Text.Json;

namespace DeepSeek.Runtime.Tokenization;

/// <summary>Everything a <see cref="BpeTokenizer"/> is built from, as read from <c>tokenizer.json</c>.</summary>
internal sealed record TokenizerParts(
    BpeModel Model,
    Normalizer? Normalizer,
    IReadOnlyList<PreTokenizer> PreTokenizers,
    IReadOnlyList<AddedToken> AddedTokens,
    PostProcessor? PostProcessor,
    bool ByteLevelDecoder);

/// <summary>
/// Reads Hugging Face <c>tokenizer.json</c> for byte-level (and plain) BPE models. Every rejection is a
/// <see cref="TokenizerFormatException"/> naming the JSON path of the offending value.
/// </summary>
internal static partial class TokenizerJson
{
    public static TokenizerParts Parse(string json, string? file)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 256 });
        }
        catch (JsonException e)
        {
            throw new TokenizerFormatException($"not valid JSON: {e.Message}", "", file, e);
        }
        using (doc)
        {
            var root = new TokenizerJsonNode(doc.RootElement, "", file);
            if (root.Element.ValueKind != JsonValueKind.Object) throw root.Error("the document must be a JSON object");

            var preTokenizers = new List<PreTokenizer>();
            var byteLevel = false;
            if (root.TryGet("pre_tokenizer", out var pre)) ParsePreTokenizer(pre, preTokenizers, ref byteLevel);
            var model = ParseModel(root.Require("model"), byteLevel);
            var normalizer = root.TryGet("normalizer", out var norm) ? Normalizer.Parse(norm) : null;
            var added = ParseAddedTokens(root);
            var post = root.TryGet("post_processor", out var pp) ? PostProcessor.Parse(pp) : null;
            var decoder = root.TryGet("decoder", out var dec) && ParseDecoder(dec);
            return new TokenizerParts(model, normalizer, preTokenizers, added, post, decoder);
        }
    }

    private static List<AddedToken> ParseAddedTokens(TokenizerJsonNode root)
    {
        var added = new List<AddedToken>();
        if (!root.TryGet("added_tokens", out var list)) return added;
        foreach (var t in list.Items())
        {
            var content = t.RequireString("content");
            if (content.Length == 0) throw new TokenizerFormatException("an added token must not be empty", t.Child("content"), t.File);
            added.Add(new AddedToken(
                t.Require("id").Id(), content,
                t.OptBool("special", false), t.OptBool("single_word", false),
                t.OptBool("lstrip", false), t.OptBool("rstrip", false), t.OptBool("normalized", !t.OptBool("special", false))));
        }
        return added;
    }

    private static bool ParseDecoder(TokenizerJsonNode node)
    {
        var type = node.Type();
        switch (type)
        {
            case "ByteLevel":
                return true;
            case "Sequence":
            {
                var any = false;
                foreach (var item in node.Require("decoders").Items()) any |= ParseDecoder(item);
                return any;
            }
            default:
                throw new TokenizerFormatException($"unknown or unsupported decoder type '{type}' (supported: ByteLevel)", node.Child("type"), node.File);
        }
    }

    private static void ParsePreTokenizer(TokenizerJsonNode node, List<PreTokenizer> stages, ref bool byteLevel)
    {
        var type = node.Type();
        if (byteLevel)
            throw new TokenizerFormatException("a pre-tokenizer after ByteLevel is not supported (ByteLevel must come last)", node.Path, node.File);
        switch (type)
        {
            case "Sequence":
                foreach (var item in node.Require("pretokenizers").Items()) ParsePreTokenizer(item, stages, ref byteLevel);
                break;
            case "Split":
            {
                var pattern = node.Require("pattern");
                ScalarRegex regex;
                if (pattern.TryGet("Regex", out var rx)) regex = ScalarRegex.Compile(rx.String(), rx.Path);
                else if (pattern.TryGet("String", out var str))
                    regex = ScalarRegex.Compile(System.Text.RegularExpressions.Regex.Escape(str.String()), str.Path);
                else throw pattern.Error("expected {\"Regex\": …} or {\"String\": …}");
                var behaviorNode = node.Require("behavior");
                var behavior = behaviorNode.String() switch
                {
                    "Removed" => SplitBehavior.Removed,
                    "Isolated" => SplitBehavior.Isolated,
                    "MergedWithPrevious" => SplitBehavior.MergedWithPrevious,
                    "MergedWithNext" => SplitBehavior.MergedWithNext,
                    "Contiguous" => SplitBehavior.Contiguous,
                    var other => throw behaviorNode.Error($"unknown split behavior '{other}'"),
                };
                stages.Add(new SplitPreTokenizer(regex, behavior, node.OptBool("invert", false)));
                break;
            }
            case "ByteLevel":
                stages.Add(new ByteLevelPreTokenizer(node.OptBool("add_prefix_space", true), node.OptBool("use_regex", true)));
                byteLevel = true;
                break;
            case "Digits":
                stages.Add(new DigitsPreTokenizer(node.OptBool("individual_digits", false)));
                break;
            default:
                throw new TokenizerFormatException($"unknown or unsupported pre_tokenizer type '{type}' (supported: Sequence, Split, ByteLevel, Digits)", node.Child("type"), node.File);
        }
    }
}
