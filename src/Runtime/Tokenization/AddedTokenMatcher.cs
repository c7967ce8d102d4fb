using System.Text;

namespace DeepSeek.Runtime.Tokenization;

/// <summary>
/// Finds added tokens in text, as HF's <c>AddedVocabulary::find_matches</c>: leftmost-longest, non-overlapping,
/// honouring <c>single_word</c>, <c>lstrip</c> and <c>rstrip</c>. Produces a cover of the text: (added id or -1, range).
/// </summary>
internal sealed class AddedTokenMatcher
{
    private sealed class Node
    {
        public Dictionary<char, Node>? Next;
        public AddedToken? Token;
    }

    private readonly Node _root = new();

    /// <summary>Builds the matcher; each token is found by its key (its content, normalized for normalized tokens).</summary>
    public AddedTokenMatcher(IEnumerable<(string Key, AddedToken Token)> tokens)
    {
        foreach (var (key, t) in tokens)
        {
            if (key.Length == 0) continue;
            var node = _root;
            foreach (var c in key)
            {
                node.Next ??= [];
                if (!node.Next.TryGetValue(c, out var child)) node.Next[c] = child = new Node();
                node = child;
            }
            node.Token ??= t;
            IsEmpty = false;
        }
    }

    /// <summary>True when there is nothing to match.</summary>
    public bool IsEmpty { get; } = true;

    /// <summary>Appends (id, start, end) segments covering <paramref name="text"/>; id −1 marks ordinary text.</summary>
    public void Split(string text, List<(int Id, int Start, int End)> output)
    {
        if (IsEmpty || _root.Next is null)
        {
            output.Add((-1, 0, text.Length));
            return;
        }
        var first = _root.Next;
        var startOffset = 0;
        for (var i = 0; i < text.Length;)
        {
            if (!first.ContainsKey(text[i])) { i++; continue; }
            AddedToken? best = null;
            var bestEnd = 0;
            var node = _root;
            for (var j = i; j < text.Length && node.Next is not null && node.Next.TryGetValue(text[j], out var child); j++)
            {
                node = child;
                if (node.Token is not null) { best = node.Token; bestEnd = j + 1; }
            }
            if (best is null) { i++; continue; }
            int start = i, stop = bestEnd;
            if (best.SingleWord)
            {
                var startSpace = start == 0 || !IsWordChar(PreviousRune(text, start));
                var stopSpace = stop == text.Length || !IsWordChar(Rune.GetRuneAt(text, stop));
                if (!startSpace || !stopSpace) { i = bestEnd; continue; } // the matcher resumes after a rejected match, as aho-corasick does
            }
            if (best.LStrip)
            {
                var s = start;
                while (s > 0 && char.IsWhiteSpace(text[s - 1])) s--;
                start = Math.Max(s, startOffset);
            }
            if (best.RStrip)
            {
                while (stop < text.Length && char.IsWhiteSpace(text[stop])) stop++;
            }
            if (startOffset < start) output.Add((-1, startOffset, start));
            output.Add((best.Id, start, stop));
            startOffset = stop;
            i = Math.Max(bestEnd, stop);
        }
        if (startOffset < text.Length) output.Add((-1, startOffset, text.Length));
    }

    private static Rune PreviousRune(string text, int index)
    {
        Rune.DecodeLastFromUtf16(text.AsSpan(0, index), out var rune, out _);
        return rune;
    }

    private static bool IsWordChar(Rune r) => Rune.IsLetterOrDigit(r) || r.Value == '_';
}
