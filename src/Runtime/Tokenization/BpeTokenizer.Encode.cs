using System.Text;

namespace DeepSeek.Runtime.Tokenization;

public sealed partial class BpeTokenizer
{
    /// <summary>Per-thread buffers reused across calls, so encoding allocates little beyond its result.</summary>
    private sealed class Scratch
    {
        public readonly List<(int Id, int Start, int End)> Raw = [];
        public readonly List<(int Id, int Start, int End)> Normalized = [];
        public readonly List<Piece> A = [];
        public readonly List<Piece> B = [];
        public readonly List<(int Start, int End)> Matches = [];
        public readonly List<int> PieceIds = [];
    }

    [ThreadStatic]
    private static Scratch? t_scratch;

    /// <summary>
    /// Encodes <paramref name="text"/> exactly as given: added/special-token text is recognised as its token.
    /// With <paramref name="addSpecialTokens"/>, the post-processor's template is applied and, when
    /// <c>tokenizer_config.json</c> sets <c>add_bos_token</c> (DeepSeek's <c>LlamaTokenizerFast</c>), BOS is prepended
    /// unless the template already put it there — what <c>transformers</c> gives for <c>tokenizer(text)</c>.
    /// Never throws for any string: lone surrogates are encoded as U+FFFD.
    /// </summary>
    public IReadOnlyList<int> Encode(string text, bool addSpecialTokens = false)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = new List<int>(text.Length / 3 + 4);
        EncodeTo(text, ids, addSpecialTokens);
        return ids.ToArray();
    }

    /// <summary>Appends the ids of <paramref name="text"/> to <paramref name="ids"/>; see <see cref="Encode(string, bool)"/>.</summary>
    public void EncodeTo(ReadOnlySpan<char> text, List<int> ids, bool addSpecialTokens = false)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var start = ids.Count;
        if (!addSpecialTokens || _postProcessor is null)
        {
            EncodeCore(Sanitize(text), ids);
        }
        else
        {
            var body = new List<int>(text.Length / 3 + 4);
            EncodeCore(Sanitize(text), body);
            ids.AddRange(_postProcessor.Apply(body));
        }
        if (addSpecialTokens && AddBosToken && BosTokenId is { } bos && (ids.Count == start || ids[start] != bos)) ids.Insert(start, bos);
    }

    /// <summary>The number of ids <see cref="Encode(string, bool)"/> gives for <paramref name="text"/> (no special tokens added).</summary>
    public int CountTokens(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = new List<int>(text.Length / 3 + 4);
        EncodeCore(Sanitize(text), ids);
        return ids.Count;
    }

    /// <summary>The text with every unpaired surrogate replaced by U+FFFD, as a UTF-8 conversion does.</summary>
    internal static string Sanitize(ReadOnlySpan<char> text)
    {
        var first = text.IndexOfAnyInRange('\uD800', '\uDFFF');
        if (first < 0) return text.ToString();
        var chars = text.ToArray();
        for (var i = first; i < chars.Length; i++)
        {
            var c = chars[i];
            if (char.IsHighSurrogate(c) && i + 1 < chars.Length && char.IsLowSurrogate(chars[i + 1])) i++;
            else if (char.IsSurrogate(c)) chars[i] = '\uFFFD';
        }
        return new string(chars);
    }

    private void EncodeCore(string text, List<int> ids)
    {
        if (text.Length == 0) return;
        var scratch = t_scratch ??= new Scratch();
        var raw = scratch.Raw;
        raw.Clear();
        _rawMatcher.Split(text, raw);
        // Copy out: the normalized pass below reuses the scratch lists.
        var rawSegments = raw.Count == 1 ? null : raw.ToArray();
        if (rawSegments is null)
        {
            EncodeUnmatched(raw[0].Id, text, raw[0].Start, raw[0].End, ids, scratch);
            return;
        }
        foreach (var (id, start, end) in rawSegments) EncodeUnmatched(id, text, start, end, ids, scratch);
    }

    private void EncodeUnmatched(int addedId, string text, int start, int end, List<int> ids, Scratch scratch)
    {
        if (addedId >= 0) { ids.Add(addedId); return; }
        var segment = start == 0 && end == text.Length ? text : text[start..end];
        if (_normalizer is not null) segment = _normalizer.Apply(segment);
        var normalized = scratch.Normalized;
        normalized.Clear();
        _normalizedMatcher.Split(segment, normalized);
        foreach (var (id, s, e) in normalized)
        {
            if (id >= 0) ids.Add(id);
            else if (e > s) EncodeSegment(new Piece(segment, s, e - s), ids, scratch);
        }
    }

    private void EncodeSegment(Piece segment, List<int> ids, Scratch scratch)
    {
        var current = scratch.A;
        var next = scratch.B;
        current.Clear();
        current.Add(segment);
        foreach (var stage in _preTokenizers)
        {
            next.Clear();
            foreach (var piece in current) stage.Split(piece, next, scratch.Matches);
            (current, next) = (next, current);
        }
        foreach (var piece in current)
        {
            var span = piece.Span;
            if (_cache.TryGet(span, out var cached))
            {
                ids.AddRange(cached);
                continue;
            }
            var pieceIds = scratch.PieceIds;
            pieceIds.Clear();
            _model.Encode(span, pieceIds);
            ids.AddRange(pieceIds);
            if (span.Length < PieceCache.MaxPieceLength) _cache.Add(span, [.. pieceIds]);
        }
    }
}
