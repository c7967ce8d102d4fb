using FsCheck;
using FsCheck.Fluent;

namespace DeepSeek.Runtime.Tests.Tokenization;

/// <summary>Helpers to feed a text to a streaming parser in different chunkings.</summary>
internal static class StreamChunking
{
    /// <summary>Cuts <paramref name="text"/> at the given (sorted, in-range) positions.</summary>
    public static IEnumerable<string> Cut(string text, IEnumerable<int> cuts)
    {
        int start = 0;
        foreach (int c in cuts.Where(c => c > 0 && c < text.Length).Distinct().Order())
        {
            yield return text[start..c];
            start = c;
        }
        yield return text[start..];
    }

    public static IEnumerable<string> Chars(string text) => text.Select(c => c.ToString());

    /// <summary>Texts built from pieces that include markers, partial markers and plain text.</summary>
    public static Gen<string> Texts(params string[] pieces) =>
        from parts in Gen.ListOf(Gen.Elements(pieces))
        select string.Concat(parts);

    /// <summary>A text with random cut positions.</summary>
    public static Gen<(string Text, int[] Cuts)> Chunked(Gen<string> texts) =>
        from text in texts
        from cuts in Gen.ArrayOf(Gen.Choose(0, Math.Max(0, text.Length)))
        select (text, cuts);
}
