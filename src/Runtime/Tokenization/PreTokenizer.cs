using System.Text;

namespace DeepSeek.Runtime.Tokenization;

/// <summary>One stage of the pre-tokenizer chain: refines every piece into smaller pieces (empty ones dropped).</summary>
internal abstract class PreTokenizer
{
    /// <summary>Appends the pieces <paramref name="piece"/> splits into to <paramref name="output"/>.</summary>
    public abstract void Split(Piece piece, List<Piece> output, List<(int Start, int End)> scratch);

    /// <summary>
    /// Turns the ordered matches of one piece into pieces by <paramref name="behavior"/>, as HF's
    /// <c>NormalizedString::split</c>: gaps between matches are pieces too; empty results are dropped.
    /// </summary>
    protected static void Emit(Piece piece, List<(int Start, int End)> matches, SplitBehavior behavior, bool invert, List<Piece> output)
    {
        if (behavior == SplitBehavior.Isolated && !invert)
        {
            // The common case (every real byte-level tokenizer), without intermediate lists.
            var at = 0;
            foreach (var (s, e) in matches)
            {
                if (s > at) output.Add(new Piece(piece.Text, piece.Start + at, s - at));
                if (e > s) output.Add(new Piece(piece.Text, piece.Start + s, e - s));
                at = e;
            }
            if (at < piece.Length) output.Add(new Piece(piece.Text, piece.Start + at, piece.Length - at));
            return;
        }
        // (start, end, isMatch) covering the whole piece, in order.
        var cover = new List<(int S, int E, bool M)>(matches.Count * 2 + 1);
        var prev = 0;
        foreach (var (s, e) in matches)
        {
            if (s > prev) cover.Add((prev, s, invert));
            cover.Add((s, e, !invert));
            prev = e;
        }
        if (prev < piece.Length) cover.Add((prev, piece.Length, invert));

        var parts = new List<(int S, int E)>(cover.Count);
        switch (behavior)
        {
            case SplitBehavior.Isolated:
                foreach (var c in cover) parts.Add((c.S, c.E));
                break;
            case SplitBehavior.Removed:
                foreach (var c in cover) if (!c.M) parts.Add((c.S, c.E));
                break;
            case SplitBehavior.MergedWithPrevious:
            {
                var previousMatch = false;
                foreach (var c in cover)
                {
                    if (c.M && !previousMatch && parts.Count > 0) parts[^1] = (parts[^1].S, c.E);
                    else parts.Add((c.S, c.E));
                    previousMatch = c.M;
                }
                break;
            }
            case SplitBehavior.MergedWithNext:
            {
                var previousMatch = false;
                for (var i = cover.Count - 1; i >= 0; i--)
                {
                    var c = cover[i];
                    if (c.M && !previousMatch && parts.Count > 0) parts[^1] = (c.S, parts[^1].E);
                    else parts.Add((c.S, c.E));
                    previousMatch = c.M;
                }
                parts.Reverse();
                break;
            }
            case SplitBehavior.Contiguous:
            {
                var previousMatch = false;
                foreach (var c in cover)
                {
                    if (c.M == previousMatch && parts.Count > 0) parts[^1] = (parts[^1].S, c.E);
                    else parts.Add((c.S, c.E));
                    previousMatch = c.M;
                }
                break;
            }
        }
        foreach (var (s, e) in parts)
        {
            if (e > s) output.Add(new Piece(piece.Text, piece.Start + s, e - s));
        }
    }
}

/// <summary>HF <c>Split</c>: a regex (or literal string) with a <see cref="SplitBehavior"/>, optionally inverted.</summary>
internal sealed class SplitPreTokenizer(ScalarRegex regex, SplitBehavior behavior, bool invert) : PreTokenizer
{
    public override void Split(Piece piece, List<Piece> output, List<(int Start, int End)> scratch)
    {
        scratch.Clear();
        regex.Matches(piece.Span, scratch);
        if (scratch.Count == 0 && !invert) { output.Add(piece); return; }
        Emit(piece, scratch, behavior, invert, output);
    }
}

/// <summary>HF <c>Digits</c>: numeric characters (Unicode N*) as runs, or one by one when <c>individual_digits</c>.</summary>
internal sealed class DigitsPreTokenizer(bool individualDigits) : PreTokenizer
{
    public override void Split(Piece piece, List<Piece> output, List<(int Start, int End)> scratch)
    {
        scratch.Clear();
        var span = piece.Span;
        for (var i = 0; i < span.Length;)
        {
            Rune.DecodeFromUtf16(span[i..], out var rune, out var used);
            if (Rune.IsNumber(rune)) scratch.Add((i, i + used));
            i += used;
        }
        Emit(piece, scratch, individualDigits ? SplitBehavior.Isolated : SplitBehavior.Contiguous, false, output);
    }
}

/// <summary>
/// HF <c>ByteLevel</c> as a pre-tokenizer: optionally prepends a space to every piece not starting with one, and
/// optionally splits with GPT-2's regex. The byte → character mapping itself is applied by the BPE model.
/// </summary>
internal sealed class ByteLevelPreTokenizer(bool addPrefixSpace, bool useRegex) : PreTokenizer
{
    /// <summary>GPT-2's pre-tokenizer regex, as HF's <c>ByteLevel</c> uses it.</summary>
    public const string Gpt2Pattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    private static readonly Lazy<ScalarRegex> Gpt2 = new(() => ScalarRegex.Compile(Gpt2Pattern, "pre_tokenizer"));

    public override void Split(Piece piece, List<Piece> output, List<(int Start, int End)> scratch)
    {
        if (addPrefixSpace && (piece.Length == 0 || piece.Span[0] != ' '))
        {
            var text = " " + piece.Span.ToString();
            piece = new Piece(text, 0, text.Length);
        }
        if (!useRegex) { output.Add(piece); return; }
        scratch.Clear();
        Gpt2.Value.Matches(piece.Span, scratch);
        Emit(piece, scratch, SplitBehavior.Isolated, false, output);
    }
}
