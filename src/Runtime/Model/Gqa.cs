using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Compute;
using DeepSeek.Runtime.Generation;

namespace DeepSeek.Runtime.Model;

/// <summary>
/// Grouped-query attention of the dense R1-Distill models (Qwen2 / Llama): q/k/v projections (with biases where the
/// checkpoint has them), <c>rotate_half</c> RoPE over the whole head, cached K/V shared by groups of query heads.
/// </summary>
public sealed class Gqa : IAttention
{
    private readonly IComputeBackend _backend;
    private readonly ModelConfig _c;
    private readonly RopeTable _rope;
    private readonly ComputeWeight _wq, _wk, _wv, _wo;
    private readonly ComputeWeight? _bq, _bk, _bv, _bo;

    /// <summary>Binds the layer's weights.</summary>
    public Gqa(IComputeBackend backend, ModelConfig config, GqaWeights w, RopeTable rope)
    {
        _backend = backend;
        _c = config;
        _rope = rope;
        (_wq, _wk, _wv, _wo) = (backend.Bind(w.Wq), backend.Bind(w.Wk), backend.Bind(w.Wv), backend.Bind(w.Wo));
        _bq = w.Bq is null ? null : backend.Bind(w.Bq);
        _bk = w.Bk is null ? null : backend.Bind(w.Bk);
        _bv = w.Bv is null ? null : backend.Bind(w.Bv);
        _bo = w.Bo is null ? null : backend.Bind(w.Bo);
    }

    /// <inheritdoc/>
    public ComputeTensor Forward(ComputeTensor x, ReadOnlySpan<TokenSlot> slots, LayerCache cache, ActivationScratch? scratch = null)
    {
        var b = _backend;
        scratch ??= new ActivationScratch(b);
        int t = x.Rows, heads = _c.NumAttentionHeads, kvHeads = _c.NumKeyValueHeads, hd = _c.HeadDim;
        Span<int> positions = t <= 1024 ? stackalloc int[t] : new int[t];
        for (var i = 0; i < t; i++) positions[i] = slots[i].Position;

        var q = scratch.Tensor(this, 0, t, heads * hd);                              // (T, H·hd)
        var k = scratch.Tensor(this, 1, t, kvHeads * hd);                            // (T, KvH·hd)
        var v = scratch.Tensor(this, 2, t, kvHeads * hd);                            // (T, KvH·hd)
        b.MatMul(x, _wq, q, _bq);
        b.MatMul(x, _wk, k, _bk);
        b.MatMul(x, _wv, v, _bv);
        b.Rope(q, heads, hd, 0, positions, _rope);
        b.Rope(k, kvHeads, hd, 0, positions, _rope);
        b.WriteCache(k, cache.Keys!, slots);
        b.WriteCache(v, cache.Values!, slots);

        var attn = scratch.Tensor(this, 3, t, heads * hd);
        b.Attention(q, cache.Keys!, cache.Values!, slots, new AttentionShape(heads, kvHeads, hd, hd, (float)_c.SoftmaxScale), attn);
        var y = scratch.Tensor(this, 4, t, _wo.Rows);
        b.MatMul(attn, _wo, y, _bo);
        return y;
    }
}
