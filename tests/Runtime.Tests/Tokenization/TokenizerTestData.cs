using System.Text.Json;
using DeepSeek.Runtime.Tokenization;

namespace DeepSeek.Runtime.Tests.Tokenization;

/// <summary>One expected encoding from the Rust <c>tokenizers</c> library (tests/reference/tokenizer/generate.mjs).</summary>
public sealed record ReferenceVector(string Text, int[] Ids, int[] IdsSpecial, string Decoded, string DecodedSkip, bool HasLoneSurrogates);

/// <summary>Finds tests/TestData/tokenizers above the test binaries and loads the committed tokenizers and vectors once.</summary>
public static class TokenizerTestData
{
    private static readonly Lazy<string> Root = new(() =>
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "tests", "TestData", "tokenizers");
            if (Directory.Exists(candidate)) return candidate;
        }
        throw new DirectoryNotFoundException("tests/TestData/tokenizers not found above the test binaries");
    });

    // The reference vectors are the Rust library's output, which reads tokenizer.json alone (no add_bos_token from
    // tokenizer_config.json), so the tokenizers they check are loaded the same way.
    private static readonly Lazy<BpeTokenizer> DeepSeek = new(() => BpeTokenizer.Load(Path.Combine(Dir("deepseek-v3"), "tokenizer.json")));
    private static readonly Lazy<BpeTokenizer> Qwen = new(() => BpeTokenizer.Load(Path.Combine(Dir("qwen2.5"), "tokenizer.json")));

    public static string Dir(string name) => Path.Combine(Root.Value, name);

    public static BpeTokenizer DeepSeekV3 => DeepSeek.Value;

    public static BpeTokenizer Qwen25 => Qwen.Value;

    public static IEnumerable<string> SyntheticFiles() => Directory.GetFiles(Dir("synthetic"), "*.json").Order();

    public static List<ReferenceVector> Vectors(JsonElement root) =>
        [.. root.GetProperty("vectors").EnumerateArray().Select(Read)];

    public static List<ReferenceVector> VectorsOf(string name)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(Dir(name), "vectors.json")));
        return Vectors(doc.RootElement);
    }

    private static ReferenceVector Read(JsonElement v)
    {
        var lone = v.TryGetProperty("utf16", out var units);
        var text = lone ? new string([.. units.EnumerateArray().Select(u => (char)u.GetInt32())]) : v.GetProperty("text").GetString()!;
        return new ReferenceVector(text, Ints(v, "ids"), Ints(v, "ids_special"), v.GetProperty("decoded").GetString()!, v.GetProperty("decoded_skip").GetString()!, lone);
    }

    private static int[] Ints(JsonElement v, string key) => [.. v.GetProperty(key).EnumerateArray().Select(i => i.GetInt32())];
}
