using System.Text.Json;

namespace DeepSeek.Runtime.Tokenization;

internal static partial class TokenizerJson
{
    private static BpeModel ParseModel(TokenizerJsonNode model, bool byteLevel)
    {
        var type = model.TryGet("type", out var t) ? t.String() : "BPE";
        if (type != "BPE")
            throw new TokenizerFormatException($"unknown or unsupported model type '{type}' (supported: BPE)", model.Child("type"), model.File);
        if (model.OptBool("byte_fallback", false))
            throw new TokenizerFormatException("byte_fallback BPE (SentencePiece-style <0xNN> tokens) is not supported", model.Child("byte_fallback"), model.File);
        if (model.TryGet("dropout", out var dropout) && (dropout.Element.ValueKind != JsonValueKind.Number || dropout.Element.GetDouble() != 0))
            throw dropout.Error("BPE dropout is a training-time option and is not supported");
        foreach (var key in (string[])["continuing_subword_prefix", "end_of_word_suffix"])
        {
            if (model.OptString(key) is { Length: > 0 })
                throw new TokenizerFormatException($"'{key}' is not supported for byte-level BPE", model.Child(key), model.File);
        }

        var vocabNode = model.Require("vocab");
        var vocab = new Dictionary<string, int>(vocabNode.Element.ValueKind == JsonValueKind.Object ? vocabNode.Element.GetPropertyCount() : 0, StringComparer.Ordinal);
        foreach (var (token, idNode) in vocabNode.Members()) vocab[token] = idNode.Id();

        var mergesNode = model.Require("merges");
        var merges = new Dictionary<ulong, (int Rank, int Id)>(mergesNode.Element.ValueKind == JsonValueKind.Array ? mergesNode.Element.GetArrayLength() : 0);
        var rank = 0;
        foreach (var item in mergesNode.Items())
        {
            string left, right;
            if (item.Element.ValueKind == JsonValueKind.String)
            {
                var text = item.Element.GetString()!;
                var space = text.IndexOf(' ', StringComparison.Ordinal);
                if (space <= 0 || space == text.Length - 1 || text.IndexOf(' ', space + 1) >= 0)
                    throw item.Error($"merge '{text}' must be two tokens separated by one space");
                left = text[..space];
                right = text[(space + 1)..];
            }
            else if (item.Element.ValueKind == JsonValueKind.Array && item.Element.GetArrayLength() == 2)
            {
                var pair = item.Items().ToArray();
                left = pair[0].String();
                right = pair[1].String();
            }
            else throw item.Error("a merge must be \"a b\" or [\"a\", \"b\"]");
            var leftId = vocab.TryGetValue(left, out var l) ? l : throw item.Error($"merge token '{left}' is not in the vocabulary");
            var rightId = vocab.TryGetValue(right, out var r) ? r : throw item.Error($"merge token '{right}' is not in the vocabulary");
            var mergedId = vocab.TryGetValue(left + right, out var m) ? m : throw item.Error($"merged token '{left + right}' is not in the vocabulary");
            // HF collects merges into a map, so a repeated pair keeps its last rank.
            merges[BpeModel.PairKey(leftId, rightId)] = (rank++, mergedId);
        }

        int? unkId = null;
        if (model.OptString("unk_token") is { } unk)
            unkId = vocab.TryGetValue(unk, out var u) ? u : throw new TokenizerFormatException($"unk_token '{unk}' is not in the vocabulary", model.Child("unk_token"), model.File);
        return new BpeModel(vocab, merges, byteLevel, model.OptBool("ignore_merges", false), unkId);
    }
}
