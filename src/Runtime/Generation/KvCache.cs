using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Compute;
using DeepSeek.Runtime.Model;

namespace DeepSeek.Runtime.Generation;

/// <summary>One layer's cache tensors. Row (sequence · MaxLength + position) holds one token.</summary>
/// <param name="Keys">Plain MLA: [rows, heads·(nope+rope)]; GQA: [rows, kv_heads·head_dim]. Null in the absorbed form.</param>
/// <param name="Values">Plain MLA: [rows, heads·v]; GQA: [rows, kv_heads·head_dim]. Null in the absorbed form.</param>
/// <param name="Latent">Absorbed MLA: [rows, kv_lora_rank + qk_rope] — normalised c_kv and rotated k_pe. Null otherwise.</param>
public sealed record LayerCache(ComputeTensor? Keys, ComputeTensor? Values, ComputeTensor? Latent);

/// <summary>
/// The KV cache of a batch of sequences: for MLA in its absorbed form only the latent
/// (<c>kv_lora_rank + qk_rope_head_dim</c> values per token per layer), for plain MLA and GQA full keys and values.
/// Layers ≥ <c>num_hidden_layers</c> are the MTP modules' own caches. Not thread-safe: one generator owns it.
/// </summary>
public sealed class KvCache
{
    private readonly LayerCache[] _layers;
    private readonly int[] _lengths;
    private readonly int[] _pending;

    /// <summary>Allocates room for <paramref name="sequences"/> sequences of up to <paramref name="maxLength"/> tokens.</summary>
    public KvCache(IComputeBackend backend, ModelConfig config, MlaMode mode, int sequences, int maxLength)
    {
        ArgumentNullException.ThrowIfNull(backend);
        ArgumentNullException.ThrowIfNull(config);
        ArgumentOutOfRangeException.ThrowIfLessThan(sequences, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxLength, 1);
        Sequences = sequences;
        MaxLength = maxLength;
        Mode = mode;
        var rows = checked(sequences * maxLength);
        _layers = new LayerCache[config.NumHiddenLayers + config.NumNextNPredictLayers];
        for (var l = 0; l < _layers.Length; l++)
        {
            _layers[l] = !config.IsMla
                ? new LayerCache(backend.Allocate(rows, config.NumKeyValueHeads * config.HeadDim), backend.Allocate(rows, config.NumKeyValueHeads * config.HeadDim), null)
                : mode == MlaMode.Absorbed
                    ? new LayerCache(null, null, backend.Allocate(rows, config.KvLoraRank + config.QkRopeHeadDim))
                    : new LayerCache(backend.Allocate(rows, config.NumAttentionHeads * config.QkHeadDim), backend.Allocate(rows, config.NumAttentionHeads * config.VHeadDim), null);
        }
        foreach (var layer in _layers)
            BytesPerToken += sizeof(float) * (long)((layer.Keys?.Cols ?? 0) + (layer.Values?.Cols ?? 0) + (layer.Latent?.Cols ?? 0));
        _lengths = new int[sequences];
        _pending = new int[sequences];
        Scratch = new ActivationScratch(backend);
    }

    /// <summary>
    /// The activations of forward passes over this cache, planned on the first pass of each size and reused after, so a
    /// warm decode step allocates nothing. Owned by the cache because a cache has one user at a time.
    /// </summary>
    public ActivationScratch Scratch { get; }

    /// <summary>Sequences the cache holds.</summary>
    public int Sequences { get; }

    /// <summary>Tokens per sequence.</summary>
    public int MaxLength { get; }

    /// <summary>How MLA layers are cached.</summary>
    public MlaMode Mode { get; }

    /// <summary>
    /// Bytes one cached token takes over all layers (MTP layers included): fp32 latent <c>kv_lora_rank + qk_rope_head_dim</c>
    /// per layer in the absorbed MLA form, full keys and values otherwise.
    /// </summary>
    public long BytesPerToken { get; }

    /// <summary>Bytes the cache holds: <see cref="Sequences"/> × <see cref="MaxLength"/> × <see cref="BytesPerToken"/>.</summary>
    public long CapacityBytes => (long)Sequences * MaxLength * BytesPerToken;

    /// <summary>Tokens cached now over all sequences.</summary>
    public int TokensInUse
    {
        get
        {
            var sum = 0;
            foreach (var length in _lengths) sum += length;
            return sum;
        }
    }

    /// <summary>The cache of layer <paramref name="layer"/>.</summary>
    public LayerCache Layer(int layer) => _layers[layer];

    /// <summary>Tokens cached for <paramref name="sequence"/>.</summary>
    public int Length(int sequence) => _lengths[sequence];

    /// <summary>Forgets <paramref name="sequence"/> (its rows are overwritten by the next use).</summary>
    public void Reset(int sequence) => _lengths[sequence] = 0;

    /// <summary>
    /// Forgets the tokens of <paramref name="sequence"/> at positions ≥ <paramref name="length"/>, in every layer
    /// (main and MTP share the lengths). Speculative decoding uses it to drop a rejected draft: attention reads only rows
    /// FirstRow … FirstRow + Position, so the stale row is invisible until the next token overwrites it.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The sequence is outside the cache or <paramref name="length"/> is negative or longer than what is cached.</exception>
    public void Truncate(int sequence, int length)
    {
        if ((uint)sequence >= (uint)Sequences) throw new ArgumentOutOfRangeException(nameof(sequence), $"sequence {sequence} outside [0, {Sequences})");
        if ((uint)length > (uint)_lengths[sequence])
            throw new ArgumentOutOfRangeException(nameof(length), $"cannot truncate sequence {sequence} to {length} tokens; it holds {_lengths[sequence]}");
        _lengths[sequence] = length;
    }

    /// <summary>
    /// Slots for appending tokens: token i of <paramref name="sequences"/> goes to the next free position of its
    /// sequence. Advances the lengths; throws before any work when a sequence would overflow.
    /// </summary>
    public TokenSlot[] Append(ReadOnlySpan<int> sequences)
    {
        var slots = new TokenSlot[sequences.Length];
        Append(sequences, slots);
        return slots;
    }

    /// <summary>As <see cref="Append(ReadOnlySpan{int})"/>, into <paramref name="slots"/> (one per token) without allocating.</summary>
    public void Append(ReadOnlySpan<int> sequences, Span<TokenSlot> slots)
    {
        if (slots.Length < sequences.Length) throw new ArgumentException($"{slots.Length} slots for {sequences.Length} tokens", nameof(slots));
        var pending = _pending;
        _lengths.CopyTo(pending, 0);
        for (var i = 0; i < sequences.Length; i++)
        {
            var s = sequences[i];
            if ((uint)s >= (uint)Sequences) throw new ArgumentOutOfRangeException(nameof(sequences), $"sequence {s} outside [0, {Sequences})");
            var pos = pending[s]++;
            if (pos >= MaxLength) throw new ContextLengthException($"sequence {s} would reach {pos + 1} tokens; the cache holds {MaxLength}", pos + 1, MaxLength);
            slots[i] = new TokenSlot(s * MaxLength + pos, s * MaxLength, pos);
        }
        pending.CopyTo(_lengths, 0);
    }
}
