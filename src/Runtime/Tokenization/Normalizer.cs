using System.Text;

namespace DeepSeek.Runtime.Tokenization;

/// <summary>HF normalizers this tokenizer supports: Unicode normal forms, in sequence (an empty sequence is none).</summary>
internal sealed class Normalizer(IReadOnlyList<NormalizationForm> forms)
{
    public IReadOnlyList<NormalizationForm> Forms => forms;

    /// <summary>Normalizes <paramref name="text"/> (which holds no lone surrogates).</summary>
    public string Apply(string text)
    {
        foreach (var form in forms)
        {
            if (!text.IsNormalized(form)) text = text.Normalize(form);
        }
        return text;
    }

    public static Normalizer? Parse(TokenizerJsonNode node)
    {
        var forms = new List<NormalizationForm>();
        Collect(node, forms);
        return forms.Count == 0 ? null : new Normalizer(forms);
    }

    private static void Collect(TokenizerJsonNode node, List<NormalizationForm> forms)
    {
        var type = node.Type();
        switch (type)
        {
            case "NFC": forms.Add(NormalizationForm.FormC); break;
            case "NFD": forms.Add(NormalizationForm.FormD); break;
            case "NFKC": forms.Add(NormalizationForm.FormKC); break;
            case "NFKD": forms.Add(NormalizationForm.FormKD); break;
            case "Sequence":
                foreach (var item in node.Require("normalizers").Items()) Collect(item, forms);
                break;
            default:
                throw new TokenizerFormatException($"unknown or unsupported normalizer type '{type}' (supported: NFC, NFD, NFKC, NFKD, Sequence)", node.Child("type"), node.File);
        }
    }
}
