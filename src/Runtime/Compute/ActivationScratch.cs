namespace DeepSeek.Runtime.Compute;

/// <summary>
/// The reusable run state of forward passes over one cache (llama2.c's RunState, llm.c's planned activations): every
/// activation tensor, view and small host buffer a layer needs, created on first use and handed out again on every
/// later pass of the same shape, so a warm decode step allocates nothing. Keyed by the layer object that owns the
/// buffer and a slot number it chooses; a tensor is sized for the most rows asked so far and viewed at the rows asked
/// now. Contents are left over from the previous pass: callers overwrite what they read (or ask for a zeroed copy).
/// Not thread-safe, like the <see cref="Generation.KvCache"/> that owns it; what it returns is valid until the owner
/// asks for the same slot again.
/// </summary>
public sealed class ActivationScratch
{
    private readonly IComputeBackend _backend;
    private readonly Dictionary<object, Slot[]> _owners = new(ReferenceEqualityComparer.Instance);

    /// <summary>Scratch allocating through <paramref name="backend"/>.</summary>
    public ActivationScratch(IComputeBackend backend) => _backend = backend ?? throw new ArgumentNullException(nameof(backend));

    /// <summary>A [<paramref name="rows"/>, <paramref name="cols"/>] tensor; its contents are whatever the slot last held (zeros when new).</summary>
    public ComputeTensor Tensor(object owner, int slot, int rows, int cols)
    {
        var s = Get(owner, slot);
        if (s.Backing is null || s.Backing.Rows < rows || s.Backing.Cols != cols)
        {
            s.Backing = _backend.Allocate(rows, cols);
            s.Views = new ComputeTensor?[rows + 1];
            s.Columns.Clear();
        }
        return rows == s.Backing.Rows ? s.Backing : s.Views![rows] ??= s.Backing.RowRange(0, rows);
    }

    /// <summary>Columns [<paramref name="offset"/>, offset + <paramref name="count"/>) of <paramref name="source"/>, a view remembered per source tensor.</summary>
    public ComputeTensor Columns(object owner, int slot, ComputeTensor source, int offset, int count)
    {
        var s = Get(owner, slot);
        foreach (var c in s.Columns)
            if (ReferenceEquals(c.Source, source) && c.Offset == offset && c.Count == count) return c.View;
        var view = source.Columns(offset, count);
        // A few sources per slot (one per row count in use); forget the oldest beyond that.
        if (s.Columns.Count == 8) s.Columns.RemoveAt(0);
        s.Columns.Add((source, offset, count, view));
        return view;
    }

    /// <summary>
    /// Distinct lengths (or item keys) a slot remembers. A continuous-batching server sees a new token count at nearly every
    /// prefill, so remembering every one would grow without bound; the oldest is forgotten past this many, while the few
    /// counts a run of decode steps cycles through stay, so warm decode steps still allocate nothing.
    /// </summary>
    public const int RememberedSizes = 16;

    /// <summary>A host array of exactly <paramref name="length"/> elements, one per length asked (the last <see cref="RememberedSizes"/>); contents left over.</summary>
    public T[] Array<T>(object owner, int slot, int length)
    {
        var s = Get(owner, slot);
        s.Arrays ??= new();
        if (s.Arrays.TryGetValue(length, out var a)) return (T[])a;
        var created = new T[length];
        s.Arrays.Set(length, created);
        return created;
    }

    /// <summary>The object last stored under (<paramref name="owner"/>, <paramref name="slot"/>, <paramref name="key"/>), or null.</summary>
    public T? Item<T>(object owner, int slot, int key) where T : class =>
        Get(owner, slot).Items is { } items && items.TryGetValue(key, out var o) ? (T)o : null;

    /// <summary>Remembers <paramref name="value"/> under (<paramref name="owner"/>, <paramref name="slot"/>, <paramref name="key"/>) (the last <see cref="RememberedSizes"/> keys).</summary>
    public void SetItem(object owner, int slot, int key, object value) => (Get(owner, slot).Items ??= new()).Set(key, value);

    private Slot Get(object owner, int slot)
    {
        if (!_owners.TryGetValue(owner, out var slots) || slots.Length <= slot)
        {
            var grown = new Slot[Math.Max(slot + 1, 4)];
            slots?.CopyTo(grown, 0);
            _owners[owner] = slots = grown;
        }
        return slots[slot] ??= new Slot();
    }

    private sealed class Slot
    {
        public ComputeTensor? Backing;
        public ComputeTensor?[]? Views;
        public readonly List<(ComputeTensor Source, int Offset, int Count, ComputeTensor View)> Columns = [];
        public Bounded<System.Array>? Arrays;
        public Bounded<object>? Items;
    }

    /// <summary>A map from size to value that forgets its oldest entry beyond <see cref="RememberedSizes"/>.</summary>
    private sealed class Bounded<T> where T : class
    {
        private readonly Dictionary<int, T> _values = [];
        private readonly Queue<int> _order = new();

        public bool TryGetValue(int key, out T value) => _values.TryGetValue(key, out value!);

        public void Set(int key, T value)
        {
            if (_values.TryAdd(key, value))
            {
                _order.Enqueue(key);
                if (_order.Count > RememberedSizes) _values.Remove(_order.Dequeue());
            }
            else _values[key] = value;
        }
    }
}
