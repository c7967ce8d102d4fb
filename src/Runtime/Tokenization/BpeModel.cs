using System.Buffers;
using System.Text;

namespace DeepSeek.Runtime.Tokenization;

/// <summary>
/// The BPE model of <c>tokenizer.json</c>: vocabulary, merge ranks keyed by the pair of ids, and the merge loop.
/// Merging always applies the lowest-ranked adjacent pair, leftmost first — the order HF's priority queue gives.
/// </summary>
internal sealed class BpeModel
{
    private readonly Dictionary<string, int> _vocab;
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _vocabLookup;
    private readonly Dictionary<ulong, (int Rank, int Id)> _merges;
    private readonly string?[] _idToToken;
    private readonly int[] _byteIds = new int[256];

    public BpeModel(Dictionary<string, int> vocab, Dictionary<ulong, (int Rank, int Id)> merges, bool byteLevel, bool ignoreMerges, int? unkId)
    {
        _vocab = vocab;
        _vocabLookup = vocab.GetAlternateLookup<ReadOnlySpan<char>>();
        _merges = merges;
        ByteLevel = byteLevel;
        IgnoreMerges = ignoreMerges;
        UnkId = unkId;
        var max = vocab.Count == 0 ? -1 : vocab.Values.Max();
        _idToToken = new string?[max + 1];
        foreach (var (token, id) in vocab) _idToToken[id] = token;
        for (var b = 0; b < 256; b++)
            _byteIds[b] = vocab.TryGetValue(ByteLevelAlphabet.ByteToChar[b].ToString(), out var id) ? id : -1;
    }

    /// <summary>Key of the merge table for the adjacent pair (<paramref name="left"/>, <paramref name="right"/>).</summary>
    public static ulong PairKey(int left, int right) => ((ulong)(uint)left << 32) | (uint)right;

    /// <summary>Whether pieces are spelled as bytes (GPT-2 alphabet) rather than characters.</summary>
    public bool ByteLevel { get; }

    /// <summary>HF <c>ignore_merges</c>: a piece that is itself in the vocabulary becomes that id without merging.</summary>
    public bool IgnoreMerges { get; }

    /// <summary>Id for symbols missing from the vocabulary; null drops them (HF behaviour without <c>unk_token</c>).</summary>
    public int? UnkId { get; }

    /// <summary>Tokens in the model vocabulary.</summary>
    public int Count => _vocab.Count;

    /// <summary>Largest id plus one.</summary>
    public int IdLimit => _idToToken.Length;

    public bool TryGetId(ReadOnlySpan<char> token, out int id) => _vocabLookup.TryGetValue(token, out id);

    public string? IdToToken(int id) => (uint)id < (uint)_idToToken.Length ? _idToToken[id] : null;

    /// <summary>Appends the ids of one pre-token to <paramref name="output"/>.</summary>
    public void Encode(ReadOnlySpan<char> piece, List<int> output)
    {
        int[]? rented = null;
        var capacity = ByteLevel ? Encoding.UTF8.GetMaxByteCount(piece.Length) : piece.Length;
        var ids = capacity <= 256 ? stackalloc int[256] : (rented = ArrayPool<int>.Shared.Rent(capacity));
        try
        {
            var n = ByteLevel ? InitialBytes(piece, ids) : InitialChars(piece, ids);
            if (IgnoreMerges && n > 1 && WholeWord(piece, out var whole))
            {
                output.Add(whole);
                return;
            }
            n = Merge(ids[..n]);
            for (var i = 0; i < n; i++) output.Add(ids[i]);
        }
        finally
        {
            if (rented is not null) ArrayPool<int>.Shared.Return(rented);
        }
    }

    private int InitialBytes(ReadOnlySpan<char> piece, Span<int> ids)
    {
        byte[]? rented = null;
        var max = Encoding.UTF8.GetMaxByteCount(piece.Length);
        var bytes = max <= 768 ? stackalloc byte[768] : (rented = ArrayPool<byte>.Shared.Rent(max));
        var count = Encoding.UTF8.GetBytes(piece, bytes);
        var n = 0;
        for (var i = 0; i < count; i++)
        {
            var id = _byteIds[bytes[i]];
            if (id >= 0) ids[n++] = id;
            else if (UnkId is { } unk) ids[n++] = unk;
        }
        if (rented is not null) ArrayPool<byte>.Shared.Return(rented);
        return n;
    }

    private int InitialChars(ReadOnlySpan<char> piece, Span<int> ids)
    {
        var n = 0;
        for (var i = 0; i < piece.Length;)
        {
            var len = char.IsHighSurrogate(piece[i]) && i + 1 < piece.Length ? 2 : 1;
            if (_vocabLookup.TryGetValue(piece.Slice(i, len), out var id)) ids[n++] = id;
            else if (UnkId is { } unk) ids[n++] = unk;
            i += len;
        }
        return n;
    }

    private bool WholeWord(ReadOnlySpan<char> piece, out int id)
    {
        if (!ByteLevel) return _vocabLookup.TryGetValue(piece, out id);
        var bytes = Encoding.UTF8.GetBytes(piece.ToString());
        return _vocabLookup.TryGetValue(ByteLevelAlphabet.Encode(bytes), out id);
    }

    /// <summary>Merges <paramref name="ids"/> in place; returns the number of symbols left.</summary>
    internal int Merge(Span<int> ids)
    {
        var n = ids.Length;
        if (n < 2) return n;
        int[]? rented = null;
        // ranks[i]: rank of the pair (ids[i], ids[i+1]), int.MaxValue when no merge exists.
        var ranks = n <= 256 ? stackalloc int[256] : (rented = ArrayPool<int>.Shared.Rent(n));
        for (var i = 0; i < n - 1; i++) ranks[i] = RankOf(ids[i], ids[i + 1], out _);
        while (n > 1)
        {
            var best = int.MaxValue;
            var at = -1;
            for (var i = 0; i < n - 1; i++)
            {
                if (ranks[i] < best) { best = ranks[i]; at = i; }
            }
            if (at < 0) break;
            RankOf(ids[at], ids[at + 1], out var merged);
            ids[at] = merged;
            ids.Slice(at + 2, n - at - 2).CopyTo(ids[(at + 1)..]);
            ranks.Slice(at + 2, Math.Max(0, n - at - 3)).CopyTo(ranks[(at + 1)..]);
            n--;
            if (at > 0) ranks[at - 1] = RankOf(ids[at - 1], ids[at], out _);
            if (at < n - 1) ranks[at] = RankOf(ids[at], ids[at + 1], out _);
        }
        if (rented is not null) ArrayPool<int>.Shared.Return(rented);
        return n;
    }

    private int RankOf(int left, int right, out int merged)
    {
        if (_merges.TryGetValue(PairKey(left, right), out var m))
        {
            merged = m.Id;
            return m.Rank;
        }
        merged = -1;
        return int.MaxValue;
    }
}
