namespace DeepSeek.Runtime.Tokenization;

/// <summary>Whether a piece of model output is reasoning (inside <c>&lt;think&gt;…&lt;/think&gt;</c>) or the answer.</summary>
public enum ReasoningKind
{
    /// <summary>Text inside a think block.</summary>
    Reasoning,

    /// <summary>Text outside any think block.</summary>
    Answer,
}

/// <summary>A run of model output of one kind; the tags themselves are never part of <see cref="Text"/>.</summary>
public readonly record struct ReasoningSegment(ReasoningKind Kind, string Text);

/// <summary>
/// Splits streamed model output into reasoning and answer at <c>&lt;think&gt;</c>/<c>&lt;/think&gt;</c>, whatever the chunking:
/// a tag cut across chunks (<c>"&lt;th"</c>, <c>"ink&gt;"</c>) is held back until it is complete or proven not to be a tag,
/// so a partial tag is never emitted as text. Text is passed on otherwise untouched (R1's newlines around the tags included);
/// the concatenation of what <see cref="Feed"/> and <see cref="Flush"/> return is the input minus the recognised tags.
/// In answer mode only the opening tag is recognised (a stray <c>&lt;/think&gt;</c> is answer text), in reasoning mode only
/// the closing one; several think blocks are allowed.
/// </summary>
public sealed class ReasoningParser
{
    /// <summary>The opening tag.</summary>
    public const string OpenTag = "<think>";

    /// <summary>The closing tag.</summary>
    public const string CloseTag = "</think>";

    private readonly bool _startInReasoning;
    private string _pending = "";

    /// <summary>Creates a parser.</summary>
    /// <param name="startInReasoning">
    /// Start inside a think block: use when the prompt itself opened it, as R1's generation prompt
    /// (<c>&lt;｜Assistant｜&gt;&lt;think&gt;\n</c>) does; see <see cref="ForPrompt"/>.
    /// </param>
    public ReasoningParser(bool startInReasoning = false)
    {
        _startInReasoning = startInReasoning;
        Mode = startInReasoning ? ReasoningKind.Reasoning : ReasoningKind.Answer;
    }

    /// <summary>A parser that starts in reasoning mode exactly when <paramref name="prompt"/> leaves a think block open.</summary>
    public static ReasoningParser ForPrompt(string prompt)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        int open = prompt.LastIndexOf(OpenTag, StringComparison.Ordinal);
        return new ReasoningParser(open >= 0 && prompt.IndexOf(CloseTag, open, StringComparison.Ordinal) < 0);
    }

    /// <summary>The kind of the text that comes next.</summary>
    public ReasoningKind Mode { get; private set; }

    /// <summary>Consumes a chunk and returns the segments it completes (possibly none, never empty texts).</summary>
    public IReadOnlyList<ReasoningSegment> Feed(string chunk)
    {
        ArgumentNullException.ThrowIfNull(chunk);
        var output = new List<ReasoningSegment>();
        string text = _pending + chunk;
        while (true)
        {
            string tag = Mode == ReasoningKind.Answer ? OpenTag : CloseTag;
            int at = text.IndexOf(tag, StringComparison.Ordinal);
            if (at < 0) break;
            Emit(output, Mode, text[..at]);
            Mode = Mode == ReasoningKind.Answer ? ReasoningKind.Reasoning : ReasoningKind.Answer;
            text = text[(at + tag.Length)..];
        }
        int hold = Markers.HeldBack(text, Mode == ReasoningKind.Answer ? OpenTag : CloseTag);
        Emit(output, Mode, text[..^hold]);
        _pending = text[^hold..];
        return output;
    }

    /// <summary>Ends the stream: a held-back partial tag is text after all. The parser is then ready for a new stream.</summary>
    public IReadOnlyList<ReasoningSegment> Flush()
    {
        var output = new List<ReasoningSegment>();
        Emit(output, Mode, _pending);
        _pending = "";
        Mode = _startInReasoning ? ReasoningKind.Reasoning : ReasoningKind.Answer;
        return output;
    }

    private static void Emit(List<ReasoningSegment> output, ReasoningKind kind, string text)
    {
        if (text.Length == 0) return;
        if (output.Count > 0 && output[^1].Kind == kind) output[^1] = new(kind, output[^1].Text + text);
        else output.Add(new(kind, text));
    }
}

/// <summary>Hold-back rule shared by the streaming parsers.</summary>
internal static class Markers
{
    /// <summary>Length of the longest suffix of <paramref name="text"/> that is a proper prefix of one of <paramref name="markers"/>.</summary>
    public static int HeldBack(string text, params ReadOnlySpan<string> markers)
    {
        int best = 0;
        foreach (string marker in markers)
        {
            for (int n = Math.Min(marker.Length - 1, text.Length); n > best; n--)
            {
                if (text.AsSpan(text.Length - n).SequenceEqual(marker.AsSpan(0, n)))
                {
                    best = n;
                    break;
                }
            }
        }
        return best;
    }
}
