namespace DeepSeek.Runtime.Tokenization;

/// <summary>
/// A bounded, thread-safe least-recently-used map from pre-token text to its BPE ids. Lookups take a span, so a
/// hit allocates nothing; only pieces shorter than <see cref="MaxPieceLength"/> are kept (as HF does).
/// </summary>
internal sealed class PieceCache
{
    /// <summary>Longer pieces are rare and would crowd the cache.</summary>
    public const int MaxPieceLength = 256;

    private struct Entry
    {
        public string Key;
        public int[] Ids;
        public int Prev, Next;
    }

    private readonly Lock _lock = new();
    private readonly Dictionary<string, int> _index;
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _lookup;
    private readonly Entry[] _entries;
    private int _count;
    private int _head = -1, _tail = -1; // head = most recent

    public PieceCache(int capacity)
    {
        Capacity = Math.Max(0, capacity);
        _index = new Dictionary<string, int>(Capacity, StringComparer.Ordinal);
        _lookup = _index.GetAlternateLookup<ReadOnlySpan<char>>();
        _entries = new Entry[Capacity];
    }

    /// <summary>Most entries held.</summary>
    public int Capacity { get; }

    /// <summary>Entries held now.</summary>
    public int Count
    {
        get { lock (_lock) return _count; }
    }

    public bool TryGet(ReadOnlySpan<char> key, out int[] ids)
    {
        lock (_lock)
        {
            if (_lookup.TryGetValue(key, out var slot))
            {
                MoveToFront(slot);
                ids = _entries[slot].Ids;
                return true;
            }
        }
        ids = [];
        return false;
    }

    public void Add(ReadOnlySpan<char> key, int[] ids)
    {
        if (Capacity == 0 || key.Length >= MaxPieceLength) return;
        lock (_lock)
        {
            if (_lookup.ContainsKey(key)) return;
            int slot;
            if (_count < Capacity) slot = _count++;
            else
            {
                slot = _tail;
                Unlink(slot);
                _index.Remove(_entries[slot].Key);
            }
            var text = key.ToString();
            _entries[slot] = new Entry { Key = text, Ids = ids, Prev = -1, Next = -1 };
            _index[text] = slot;
            LinkFront(slot);
        }
    }

    private void MoveToFront(int slot)
    {
        if (slot == _head) return;
        Unlink(slot);
        LinkFront(slot);
    }

    private void Unlink(int slot)
    {
        ref var e = ref _entries[slot];
        if (e.Prev >= 0) _entries[e.Prev].Next = e.Next; else _head = e.Next;
        if (e.Next >= 0) _entries[e.Next].Prev = e.Prev; else _tail = e.Prev;
        e.Prev = e.Next = -1;
    }

    private void LinkFront(int slot)
    {
        ref var e = ref _entries[slot];
        e.Prev = -1;
        e.Next = _head;
        if (_head >= 0) _entries[_head].Prev = slot;
        _head = slot;
        if (_tail < 0) _tail = slot;
    }
}
