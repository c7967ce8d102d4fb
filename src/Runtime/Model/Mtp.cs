using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Compute;
using DeepSeek.Runtime.Generation;

namespace DeepSeek.Runtime.Model;

/// <summary>
/// Multi-token prediction module (DeepSeek-V3 §2.2, layer index ≥ num_hidden_layers): for position i,
/// h′ = eh_proj([enorm(Emb(t_{i+1})); hnorm(h_i)]) — embedding first, h_i the main model's final hidden state after
/// <c>model.norm</c> — then a full decoder block, <c>shared_head.norm</c> and the head give logits for t_{i+2}.
/// </summary>
public sealed class Mtp
{
    private readonly IComputeBackend _backend;
    private readonly ComputeWeight _eNorm, _hNorm, _ehProj, _headNorm, _embed, _head;
    private readonly Block _block;
    private readonly float _eps;

    /// <summary>
    /// Binds the module; its embedding and head default to the main model's when the checkpoint omits them. The block's MoE
    /// layer comes from <paramref name="moeLayers"/> when given.
    /// </summary>
    public Mtp(IComputeBackend backend, ModelConfig config, MtpWeights w, ComputeWeight mainEmbed, ComputeWeight mainHead, RopeTable rope, MlaMode mode,
        MoeLayerFactory? moeLayers = null)
    {
        _backend = backend;
        Layer = w.Layer;
        _eps = (float)config.RmsNormEps;
        _eNorm = backend.Bind(w.ENorm);
        _hNorm = backend.Bind(w.HNorm);
        _ehProj = backend.Bind(w.EhProj);
        _headNorm = backend.Bind(w.HeadNorm);
        _embed = w.Embed is null ? mainEmbed : backend.Bind(w.Embed);
        _head = w.Head is null ? mainHead : backend.Bind(w.Head);
        _block = new Block(backend, config, w.Block, rope, mode, moeLayers);
    }

    /// <summary>Layer index of the module.</summary>
    public int Layer { get; }

    /// <summary>
    /// MTP logits: <paramref name="nextTokens"/>[i] = t_{i+1}, <paramref name="mainHidden"/> [T, hidden] the main
    /// model's normalised final states; logits are computed for <paramref name="logitRows"/> into [rows, vocab].
    /// </summary>
    public void Forward(ReadOnlySpan<int> nextTokens, ComputeTensor mainHidden, ReadOnlySpan<TokenSlot> slots, KvCache cache, ReadOnlySpan<int> logitRows, Span<float> logits)
    {
        ArgumentNullException.ThrowIfNull(cache);
        var b = _backend;
        var scratch = cache.Scratch;
        int t = mainHidden.Rows, hidden = mainHidden.Cols;
        var cat = scratch.Tensor(this, 0, t, 2 * hidden);                            // (T, 2·hidden) = [enorm(emb) | hnorm(h)]
        var e = scratch.Columns(this, 1, cat, 0, hidden);
        b.Embedding(nextTokens, _embed, e);
        b.RmsNorm(e, _eNorm, _eps, e);
        b.RmsNorm(mainHidden, _hNorm, _eps, scratch.Columns(this, 2, cat, hidden, hidden));
        var x = scratch.Tensor(this, 3, t, hidden);                       // (T, hidden)
        b.MatMul(cat, _ehProj, x);
        _block.Forward(x, slots, cache.Layer(Layer), trace: null, scratch);
        b.RmsNorm(x, _headNorm, _eps, x);
        Transformer.Logits(b, x, _head, logitRows, logits, scratch, this);
    }
}
