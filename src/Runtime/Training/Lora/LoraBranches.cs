using System.Numerics;
using DeepSeek.Runtime.Tensors;
using DeepSeek.Runtime.Training.Ops;

namespace DeepSeek.Runtime.Training.Lora;

/// <summary>
/// The LoRA branches of a model being trained, keyed by the frozen weight each one adapts (by reference: the layers
/// look up the array they are about to multiply by). Each branch adds s·dropout(x)·Aᵀ·Bᵀ after its projection
/// (<see cref="LoraOp"/>) and accumulates dA, dB in its backward. The branches' activations (the masked input, s·x·Aᵀ,
/// the mask) live in one arena planned for <c>maxRows</c> rows, enough for any projection of a sequence (an expert sees
/// each token at most once).
/// </summary>
/// <remarks>
/// Dropout is PEFT's: on the branch input only, inverted (kept elements scaled by 1/(1−p)), a fresh mask per adapted
/// projection and call, applied only while <see cref="Training"/>. The mask of element i is a pure function of
/// (seed, <see cref="Stream"/>, branch, i) — a counter-based generator, not a stateful one — so the forward recomputed
/// for activation checkpointing sees the same mask, and a resumed run needs no generator state to continue bit for bit.
/// </remarks>
internal sealed class LoraBranches<T> where T : IFloatingPointIeee754<T>
{
    private readonly Dictionary<T[], Branch> _byWeight = new(ReferenceEqualityComparer.Instance);
    private readonly ArenaArray<T> _arena = new();
    private readonly int _maxRows;
    private readonly T _keep;

    /// <summary>Branches for up to <paramref name="maxRows"/> rows per call with dropout probability <paramref name="dropout"/>.</summary>
    public LoraBranches(int maxRows, double dropout, int seed)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxRows, 1);
        if (!(dropout >= 0 && dropout < 1)) throw new ArgumentOutOfRangeException(nameof(dropout), dropout, "LoRA dropout must be in [0, 1)");
        _maxRows = maxRows;
        Dropout = dropout;
        Seed = seed;
        _keep = T.One / T.CreateChecked(1 - dropout);
    }

    /// <summary>Dropout probability p on each branch's input.</summary>
    public double Dropout { get; }

    /// <summary>Seed of the dropout masks.</summary>
    public int Seed { get; }

    /// <summary>Whether dropout applies (training forward); false for inference-only forwards.</summary>
    public bool Training { get; set; }

    /// <summary>Which sequence of which step the masks are drawn for; set by the model before each sequence's forward.</summary>
    public ulong Stream { get; set; }

    /// <summary>Number of branches.</summary>
    public int Count => _byWeight.Count;

    /// <summary>Bytes of the branches' activations.</summary>
    public long ActivationBytes => _arena.Bytes;

    /// <summary>
    /// Adds a branch over <paramref name="weight"/> [out, in] with A [r, in], B [out, r] and their gradients
    /// (accumulated by the backward); <paramref name="scale"/> = α/r.
    /// </summary>
    public void Add(string name, T[] weight, int outputs, int inputs, int rank, T[] a, T[] b, T[] da, T[] db, T scale)
    {
        ArgumentNullException.ThrowIfNull(weight);
        if (weight.Length != outputs * inputs) throw new ArgumentException($"{name}: weight of {weight.Length} values is not [{outputs}, {inputs}]", nameof(weight));
        if (a.Length != rank * inputs || da.Length != a.Length) throw new ArgumentException($"{name}: lora_A must be [{rank}, {inputs}]", nameof(a));
        if (b.Length != outputs * rank || db.Length != b.Length) throw new ArgumentException($"{name}: lora_B must be [{outputs}, {rank}]", nameof(b));
        if (_byWeight.ContainsKey(weight)) throw new ArgumentException($"{name} already has a LoRA branch", nameof(weight));
        var id = _byWeight.Count;
        var rows = _maxRows;
        var mask = Dropout > 0 ? _arena.Add($"lora{id}.mask", (long)rows * inputs) : default;     // (rows, in)
        var dxd = Dropout > 0 ? _arena.Add($"lora{id}.dxd", (long)rows * inputs) : default;       // (rows, in)
        _byWeight.Add(weight, new Branch(id, name, outputs, inputs, rank, a, b, da, db, scale,
            mask, _arena.Add($"lora{id}.xd", (long)rows * inputs),                                  // (rows, in)
            _arena.Add($"lora{id}.us", (long)rows * rank),                                          // (rows, r)
            _arena.Add($"lora{id}.du", (long)rows * rank), dxd));                                   // (rows, r)
    }

    /// <summary>y [rows, out] += the branch of <paramref name="weight"/> (nothing when it has none).</summary>
    public void Forward(T[] weight, ReadOnlySpan<T> x, Span<T> y, int rows)
    {
        if (!_byWeight.TryGetValue(weight, out var br) || rows == 0) return;
        if (rows > _maxRows) throw new ArgumentException($"{br.Name}: {rows} rows, LoRA activations planned for {_maxRows}", nameof(rows));
        var n = rows * br.Inputs;
        var mask = Span<T>.Empty;
        if (Training && Dropout > 0)
        {
            mask = _arena.Get(br.Mask, n);
            FillMask(mask, br.Id);
        }
        br.Masked = !mask.IsEmpty;
        LoraOp.Forward<T>(x, mask, br.A, br.B, _arena.Get(br.Xd, n), _arena.Get(br.Us, rows * br.Rank), y, rows, br.Inputs, br.Outputs, br.Rank, br.Scale);
    }

    /// <summary>Accumulates dA, dB and dx (empty skips it) of the branch of <paramref name="weight"/> after its <see cref="Forward"/>.</summary>
    public void Backward(T[] weight, ReadOnlySpan<T> dy, Span<T> dx, int rows)
    {
        if (!_byWeight.TryGetValue(weight, out var br) || rows == 0) return;
        var n = rows * br.Inputs;
        var mask = br.Masked ? _arena.Get(br.Mask, n) : Span<T>.Empty;
        var dxd = br.Masked ? _arena.Get(br.Dxd, n) : Span<T>.Empty;
        LoraOp.Backward<T>(dy, mask, _arena.Get(br.Xd, n), _arena.Get(br.Us, rows * br.Rank), br.A, br.B,
            _arena.Get(br.Du, rows * br.Rank), dxd, dx, br.DA, br.DB, rows, br.Inputs, br.Outputs, br.Rank, br.Scale);
    }

    /// <summary>mask[i] = 0 with probability p, else 1/(1−p); element i of branch <paramref name="branch"/> under (seed, stream).</summary>
    private void FillMask(Span<T> mask, int branch)
    {
        var key = Mix(Mix(Mix((ulong)(uint)Seed) ^ Stream) ^ (ulong)branch);
        for (var i = 0; i < mask.Length; i++) mask[i] = Uniform(key, i) < Dropout ? T.Zero : _keep;
    }

    /// <summary>A uniform double in [0, 1) for (key, index): SplitMix64's finaliser over the counter.</summary>
    internal static double Uniform(ulong key, long index) => (Mix(key + (ulong)index * 0x9E3779B97F4A7C15UL) >> 11) * (1.0 / (1UL << 53));

    /// <summary>SplitMix64 finaliser (Steele, Lea, Flood 2014): a bijective 64-bit mix.</summary>
    internal static ulong Mix(ulong z)
    {
        z += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    private sealed class Branch(int id, string name, int outputs, int inputs, int rank, T[] a, T[] b, T[] da, T[] db, T scale,
        ArenaSlice mask, ArenaSlice xd, ArenaSlice us, ArenaSlice du, ArenaSlice dxd)
    {
        public int Id { get; } = id;
        public string Name { get; } = name;
        public int Outputs { get; } = outputs;
        public int Inputs { get; } = inputs;
        public int Rank { get; } = rank;
        public T[] A { get; } = a;
        public T[] B { get; } = b;
        public T[] DA { get; } = da;
        public T[] DB { get; } = db;
        public T Scale { get; } = scale;
        public ArenaSlice Mask { get; } = mask;
        public ArenaSlice Xd { get; } = xd;
        public ArenaSlice Us { get; } = us;
        public ArenaSlice Du { get; } = du;
        public ArenaSlice Dxd { get; } = dxd;
        /// <summary>Whether the last forward applied a mask.</summary>
        public bool Masked { get; set; }
    }
}
