using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Compute;
using DeepSeek.Runtime.Generation;

namespace DeepSeek.Runtime.Model;

/// <summary>
/// Multi-head latent attention (DeepSeek-V2 §2.1): q = WqB(norm(WqA x)) (or Wq x); [c_kv | k_pe] = WkvA x with c_kv
/// normalised and k_pe one rotary key shared by all heads; kv_b_proj expands c_kv into per-head [k_nope | v].
/// Computed either plainly (materialised per-head K/V) or absorbed over the latent cache (see <see cref="MlaMode"/>).
/// </summary>
public sealed class Mla : IAttention
{
    private readonly IComputeBackend _backend;
    private readonly ModelConfig _c;
    private readonly MlaMode _mode;
    private readonly RopeTable _rope;
    private readonly ComputeWeight? _wq, _wqA, _qNorm, _wqB;
    private readonly ComputeWeight _wkvA, _kvNorm, _wkvB, _wo;

    /// <summary>Binds the layer's weights.</summary>
    public Mla(IComputeBackend backend, ModelConfig config, MlaWeights w, RopeTable rope, MlaMode mode)
    {
        _backend = backend;
        _c = config;
        _mode = mode;
        _rope = rope;
        if (w.Wq is { } wq) _wq = backend.Bind(wq);
        else
        {
            _wqA = backend.Bind(w.WqA!);
            _qNorm = backend.Bind(w.QNorm!);
            _wqB = backend.Bind(w.WqB!);
        }
        _wkvA = backend.Bind(w.WkvA);
        _kvNorm = backend.Bind(w.KvNorm);
        _wkvB = backend.Bind(w.WkvB);
        _wo = backend.Bind(w.Wo);
    }

    /// <inheritdoc/>
    public ComputeTensor Forward(ComputeTensor x, ReadOnlySpan<TokenSlot> slots, LayerCache cache, ActivationScratch? scratch = null)
    {
        var b = _backend;
        scratch ??= new ActivationScratch(b);
        int t = x.Rows, heads = _c.NumAttentionHeads, nope = _c.QkNopeHeadDim, rope = _c.QkRopeHeadDim, v = _c.VHeadDim, kvl = _c.KvLoraRank;
        var qk = nope + rope;
        var eps = (float)_c.RmsNormEps;
        var scale = (float)_c.SoftmaxScale;
        Span<int> positions = t <= 1024 ? stackalloc int[t] : new int[t];
        for (var i = 0; i < t; i++) positions[i] = slots[i].Position;

        var q = scratch.Tensor(this, 0, t, heads * qk);                              // (T, H·(nope+rope))
        if (_wq is not null) b.MatMul(x, _wq, q);
        else
        {
            var qa = scratch.Tensor(this, 1, t, _wqA!.Rows);                         // (T, q_lora)
            b.MatMul(x, _wqA, qa);
            b.RmsNorm(qa, _qNorm!, eps, qa);
            b.MatMul(qa, _wqB!, q);
        }
        b.Rope(q, heads, qk, nope, positions, _rope);

        var kva = scratch.Tensor(this, 2, t, kvl + rope);                            // (T, kv_lora + rope) = [c_kv | k_pe]
        b.MatMul(x, _wkvA, kva);
        var cKv = scratch.Columns(this, 3, kva, 0, kvl);
        var kPe = scratch.Columns(this, 4, kva, kvl, rope);
        b.RmsNorm(cKv, _kvNorm, eps, cKv);
        b.Rope(kPe, 1, rope, 0, positions, _rope);

        var attn = scratch.Tensor(this, 5, t, heads * v);                            // (T, H·v)
        if (_mode == MlaMode.Absorbed)
        {
            b.WriteCache(kva, cache.Latent!, slots);
            b.MlaAbsorbedAttention(q, cache.Latent!, _wkvB, slots, new MlaShape(heads, nope, rope, v, kvl, scale), attn);
        }
        else
        {
            var kv = b.Allocate(t, heads * (nope + v));                  // (T, H·(nope+v)) per head [k_nope | v]
            b.MatMul(cKv, _wkvB, kv);
            var k = b.Allocate(t, heads * qk);                           // (T, H·(nope+rope))
            var val = b.Allocate(t, heads * v);                          // (T, H·v)
            for (var h = 0; h < heads; h++)
            {
                b.Copy(kv.Columns(h * (nope + v), nope), k.Columns(h * qk, nope));
                b.Copy(kPe, k.Columns(h * qk + nope, rope));
                b.Copy(kv.Columns(h * (nope + v) + nope, v), val.Columns(h * v, v));
            }
            b.WriteCache(k, cache.Keys!, slots);
            b.WriteCache(val, cache.Values!, slots);
            b.Attention(q, cache.Keys!, cache.Values!, slots, new AttentionShape(heads, heads, qk, v, scale), attn);
        }

        var y = scratch.Tensor(this, 6, t, _wo.Rows);                                // (T, hidden)
        b.MatMul(attn, _wo, y);
        return y;
    }
}
