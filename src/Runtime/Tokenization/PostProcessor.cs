namespace DeepSeek.Runtime.Tokenization;

/// <summary>
/// HF post-processors for a single sequence: <c>TemplateProcessing</c> adds its special tokens around the ids;
/// <c>ByteLevel</c> changes only offsets, so it adds nothing. Applied only when special tokens are asked for.
/// </summary>
internal sealed class PostProcessor(IReadOnlyList<int[]?> single)
{
    /// <summary>The single-sequence template: special-token ids, or null where the sequence goes.</summary>
    public IReadOnlyList<int[]?> Single => single;

    public int[] Apply(List<int> ids)
    {
        var result = new List<int>(ids.Count + 4);
        foreach (var part in single)
        {
            if (part is null) result.AddRange(ids);
            else result.AddRange(part);
        }
        return [.. result];
    }

    public static PostProcessor? Parse(TokenizerJsonNode node)
    {
        var type = node.Type();
        switch (type)
        {
            case "ByteLevel":
                return null;
            case "Sequence":
            {
                PostProcessor? found = null;
                foreach (var item in node.Require("processors").Items())
                {
                    if (Parse(item) is { } p) found = found is null ? p : throw item.Error("more than one TemplateProcessing in a Sequence is not supported");
                }
                return found;
            }
            case "TemplateProcessing":
            {
                var specials = new Dictionary<string, int[]>(StringComparer.Ordinal);
                if (node.TryGet("special_tokens", out var st))
                {
                    foreach (var (name, value) in st.Members())
                        specials[name] = [.. value.Require("ids").Items().Select(i => i.Int())];
                }
                var parts = new List<int[]?>();
                foreach (var item in node.Require("single").Items())
                {
                    if (item.TryGet("Sequence", out _)) parts.Add(null);
                    else if (item.TryGet("SpecialToken", out var sp))
                    {
                        var name = sp.RequireString("id");
                        parts.Add(specials.TryGetValue(name, out var ids) ? ids
                            : throw new TokenizerFormatException($"special token '{name}' is not listed in special_tokens", sp.Child("id"), sp.File));
                    }
                    else throw item.Error("expected a 'Sequence' or 'SpecialToken' template item");
                }
                return new PostProcessor(parts);
            }
            default:
                throw new TokenizerFormatException($"unknown or unsupported post_processor type '{type}' (supported: TemplateProcessing, ByteLevel, Sequence)", node.Child("type"), node.File);
        }
    }
}
