using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Compute;
using DeepSeek.Runtime.Generation;

namespace DeepSeek.Runtime.Model;

/// <summary>What a forward pass leaves for the MTP module: final hidden states after <c>model.norm</c> [T, hidden] and each token's cache slot.</summary>
/// <param name="Hidden">Normalised final hidden states.</param>
/// <param name="Slots">Cache slot of each token.</param>
/// <remarks>Both live in the cache's <see cref="ActivationScratch"/>: valid until the next forward pass on the same cache.</remarks>
public sealed record ForwardResult(ComputeTensor Hidden, TokenSlot[] Slots);

/// <summary>
/// A DeepSeek-V2/V3/R1 (MLA + MoE + MTP) or dense Qwen2/Llama model bound to a backend: embedding, decoder blocks,
/// final norm, head. One forward call processes any mix of sequences and positions (batched prefill or decode):
/// token i belongs to sequence <c>sequences[i]</c> and is appended to that sequence's cache.
/// </summary>
public sealed class Transformer
{
    private readonly IComputeBackend _backend;
    private readonly ComputeWeight _embed, _norm, _head;
    private readonly Block[] _blocks;
    private readonly float _eps;

    /// <summary>
    /// Binds every weight of <paramref name="weights"/>; RoPE is tabulated for <paramref name="maxPositions"/> positions.
    /// MoE layers (main and MTP blocks) are built by <paramref name="moeLayers"/> when given — e.g. expert-parallel layers
    /// that bind only this rank's experts — else as single-process <see cref="Moe"/> layers.
    /// </summary>
    public Transformer(IComputeBackend backend, WeightMap weights, int maxPositions, MlaMode mlaMode = MlaMode.Absorbed, MoeLayerFactory? moeLayers = null)
    {
        ArgumentNullException.ThrowIfNull(backend);
        ArgumentNullException.ThrowIfNull(weights);
        _backend = backend;
        Config = weights.Config;
        MlaMode = mlaMode;
        MaxPositions = maxPositions;
        _eps = (float)Config.RmsNormEps;
        var rope = RopeTable.For(Config, maxPositions);
        _embed = backend.Bind(weights.Embed);
        _norm = backend.Bind(weights.Norm);
        _head = weights.LmHead is null ? _embed : backend.Bind(weights.LmHead);
        _blocks = weights.Blocks.Select(w => new Block(backend, Config, w, rope, mlaMode, moeLayers)).ToArray();
        Mtp = weights.Mtp.Select(w => new Mtp(backend, Config, w, _embed, _head, rope, mlaMode, moeLayers)).ToArray();
    }

    /// <summary>The model config.</summary>
    public ModelConfig Config { get; }

    /// <summary>How MLA layers compute and cache.</summary>
    public MlaMode MlaMode { get; }

    /// <summary>Positions the RoPE table covers (the longest sequence this instance can run).</summary>
    public int MaxPositions { get; }

    /// <summary>Vocabulary size (logit row length).</summary>
    public int VocabSize => Config.VocabSize;

    /// <summary>The MTP modules (empty when the model has none).</summary>
    public IReadOnlyList<Mtp> Mtp { get; }

    /// <summary>The backend the model runs on.</summary>
    public IComputeBackend Backend => _backend;

    /// <summary>A cache sized for this model: <paramref name="sequences"/> sequences of up to <paramref name="maxLength"/> tokens.</summary>
    public KvCache CreateCache(int sequences, int maxLength)
    {
        if (maxLength > MaxPositions)
            throw new ContextLengthException($"a cache of {maxLength} tokens exceeds the {MaxPositions} positions this model instance supports", maxLength, MaxPositions);
        return new KvCache(_backend, Config, MlaMode, sequences, maxLength);
    }

    /// <summary>
    /// Runs <paramref name="tokens"/> (token i of sequence <paramref name="sequences"/>[i], appended to the cache)
    /// and writes logits for the rows listed in <paramref name="logitRows"/> into <paramref name="logits"/>
    /// [logitRows.Length, vocab]. Returns the final hidden states after <c>model.norm</c> and the cache slots used:
    /// the input of <see cref="MtpForward"/>.
    /// </summary>
    public ForwardResult Forward(ReadOnlySpan<int> tokens, ReadOnlySpan<int> sequences, KvCache cache, ReadOnlySpan<int> logitRows, Span<float> logits, ForwardTrace? trace = null)
    {
        ArgumentNullException.ThrowIfNull(cache);
        if (tokens.Length == 0) throw new ArgumentException("no tokens to run", nameof(tokens));
        if (sequences.Length != tokens.Length) throw new ArgumentException($"{tokens.Length} tokens but {sequences.Length} sequence indices", nameof(sequences));
        CheckIds(tokens, nameof(tokens));
        var scratch = cache.Scratch;
        var slots = scratch.Array<TokenSlot>(this, 0, tokens.Length);
        cache.Append(sequences, slots);

        var b = _backend;
        var x = scratch.Tensor(this, 1, tokens.Length, Config.HiddenSize);   // (T, hidden) residual stream
        b.Embedding(tokens, _embed, x);
        foreach (var block in _blocks)
        {
            block.Forward(x, slots, cache.Layer(block.Layer), trace, scratch);
            if (trace is not null)
            {
                var host = new float[tokens.Length * Config.HiddenSize];
                b.Download(x, host);
                trace.Hidden[block.Layer] = host;
            }
        }
        b.RmsNorm(x, _norm, _eps, x);
        Logits(b, x, _head, logitRows, logits, scratch, this);
        // One result object per row count: x and slots are the scratch's, the same objects every pass of that size.
        var result = scratch.Item<ForwardResult>(this, 2, tokens.Length);
        if (result is null || !ReferenceEquals(result.Hidden, x) || !ReferenceEquals(result.Slots, slots))
            scratch.SetItem(this, 2, tokens.Length, result = new ForwardResult(x, slots));
        return result;
    }

    /// <summary>
    /// MTP logits for the tokens a <see cref="Forward"/> call just ran: <paramref name="nextTokens"/>[i] is the token
    /// after token i. The MTP block caches into its own layer at the same positions.
    /// </summary>
    public void MtpForward(ReadOnlySpan<int> nextTokens, ForwardResult main, KvCache cache, ReadOnlySpan<int> logitRows, Span<float> logits, int module = 0)
    {
        ArgumentNullException.ThrowIfNull(main);
        if (Mtp.Count == 0) throw new InvalidOperationException($"the model has no MTP module (num_nextn_predict_layers = {Config.NumNextNPredictLayers})");
        if (nextTokens.Length != main.Slots.Length) throw new ArgumentException($"{nextTokens.Length} next tokens for {main.Slots.Length} positions", nameof(nextTokens));
        CheckIds(nextTokens, nameof(nextTokens));
        Mtp[module].Forward(nextTokens, main.Hidden, main.Slots, cache, logitRows, logits);
    }

    private void CheckIds(ReadOnlySpan<int> ids, string name)
    {
        foreach (var id in ids)
            if ((uint)id >= (uint)Config.VocabSize) throw new ArgumentOutOfRangeException(name, $"token id {id} outside the vocabulary [0, {Config.VocabSize})");
    }

    internal static void Logits(IComputeBackend b, ComputeTensor hidden, ComputeWeight head, ReadOnlySpan<int> rows, Span<float> logits, ActivationScratch scratch, object owner)
    {
        if (rows.Length == 0) return;
        if (logits.Length < rows.Length * head.Rows) throw new ArgumentException($"logits buffer holds {logits.Length} values; {rows.Length} rows × {head.Rows} needed", nameof(logits));
        // Only the rows whose logits are needed go through the head (decode needs one per sequence).
        // Slots 10 and 11 of the owner (the model or an MTP module) are reserved for the head.
        var picked = scratch.Tensor(owner, 10, rows.Length, hidden.Cols);   // (rows, hidden)
        b.GatherRows(hidden, rows, picked);
        var output = scratch.Tensor(owner, 11, rows.Length, head.Rows);     // (rows, vocab)
        b.MatMul(picked, head, output);
        b.Download(output, logits);
    }
}
