using System.Numerics;
using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Model;
using DeepSeek.Runtime.Tensors;
using DeepSeek.Runtime.Training.Lora;
using DeepSeek.Runtime.Training.Ops;

namespace DeepSeek.Runtime.Training.Layers;

/// <summary>MLA weights (and, with the same shape, their gradients), HF layout [out, in].</summary>
public sealed class MlaParameters<T> where T : IFloatingPointIeee754<T>
{
    /// <summary>Allocates zeroed parameters for <paramref name="c"/>.</summary>
    public MlaParameters(ModelConfig c)
    {
        int h = c.HiddenSize, heads = c.NumAttentionHeads, qk = c.QkHeadDim;
        if (c.QLoraRank is { } qr)
        {
            WqA = new T[qr * h];
            QNorm = new T[qr];
            WqB = new T[heads * qk * qr];
        }
        else
        {
            Wq = new T[heads * qk * h];
        }
        WkvA = new T[(c.KvLoraRank + c.QkRopeHeadDim) * h];
        KvNorm = new T[c.KvLoraRank];
        WkvB = new T[heads * (c.QkNopeHeadDim + c.VHeadDim) * c.KvLoraRank];
        Wo = new T[h * heads * c.VHeadDim];
    }

    /// <summary><c>q_proj</c> when there is no q_lora.</summary>
    public T[]? Wq { get; }
    /// <summary><c>q_a_proj</c>.</summary>
    public T[]? WqA { get; }
    /// <summary><c>q_a_layernorm</c>.</summary>
    public T[]? QNorm { get; }
    /// <summary><c>q_b_proj</c>.</summary>
    public T[]? WqB { get; }
    /// <summary><c>kv_a_proj_with_mqa</c>.</summary>
    public T[] WkvA { get; }
    /// <summary><c>kv_a_layernorm</c>.</summary>
    public T[] KvNorm { get; }
    /// <summary><c>kv_b_proj</c>.</summary>
    public T[] WkvB { get; }
    /// <summary><c>o_proj</c>.</summary>
    public T[] Wo { get; }

    /// <summary>Every tensor, for optimizers and checks.</summary>
    public IEnumerable<(string Name, T[] Values)> Tensors()
    {
        if (Wq is not null) yield return ("q_proj", Wq);
        if (WqA is not null) yield return ("q_a_proj", WqA);
        if (QNorm is not null) yield return ("q_a_layernorm", QNorm);
        if (WqB is not null) yield return ("q_b_proj", WqB);
        yield return ("kv_a_proj_with_mqa", WkvA);
        yield return ("kv_a_layernorm", KvNorm);
        yield return ("kv_b_proj", WkvB);
        yield return ("o_proj", Wo);
    }
}

/// <summary>
/// Multi-head latent attention for training, in the plain per-head form (the latent cache is an inference device),
/// over one causal sequence at positions 0 … T−1. Forward keeps what the backward needs; the backward accumulates
/// parameter gradients and the input gradient (llm.c convention). Every buffer is planned once in an arena: the kept
/// activations in one, the forward temporaries and activation gradients in a scratch arena that other layers may overlay.
/// </summary>
public sealed class MlaLayer<T> where T : IFloatingPointIeee754<T>
{
    private readonly ModelConfig _c;
    private readonly RopeTable _rope;
    private readonly int _tokens;
    private readonly int[] _positions;
    private readonly ArenaArray<T> _acts, _scratch;
    // Kept activations, shapes in comments (T tokens).
    private readonly ArenaSlice _x, _qa, _qaRstd, _qan, _q, _kva, _ckv, _ckvRstd, _ckvn, _k, _v, _probs, _attn;
    // Scratch: forward temporaries and activation gradients.
    private readonly ArenaSlice _kv, _dAttn, _dq, _dk, _dv, _dkv, _dkva, _dckvn, _dckv, _dqan, _dqa, _dp;

    /// <summary>Plans the activations for sequences of <paramref name="tokens"/>.</summary>
    public MlaLayer(ModelConfig config, RopeTable rope, int tokens) : this(config, rope, tokens, new ArenaArray<T>(), new ArenaArray<T>())
    {
    }

    /// <summary>Plans the kept activations in <paramref name="acts"/> and the scratch in <paramref name="scratch"/>.</summary>
    internal MlaLayer(ModelConfig config, RopeTable rope, int tokens, ArenaArray<T> acts, ArenaArray<T> scratch)
    {
        _c = config;
        _rope = rope;
        _tokens = tokens;
        _positions = Enumerable.Range(0, tokens).ToArray();
        (_acts, _scratch) = (acts, scratch);
        int h = config.HiddenSize, heads = config.NumAttentionHeads, qk = config.QkHeadDim, kvl = config.KvLoraRank;
        int vd = config.VHeadDim, kvaWidth = kvl + config.QkRopeHeadDim, kvWidth = heads * (config.QkNopeHeadDim + vd);
        var qr = config.QLoraRank ?? 0;
        _x = acts.Add("mla.x", tokens * h);                            // (T, hidden)
        _qa = acts.Add("mla.qa", tokens * qr);                          // (T, q_lora)
        _qaRstd = acts.Add("mla.qa_rstd", tokens);                      // (T)
        _qan = acts.Add("mla.qan", tokens * qr);                        // (T, q_lora)
        _q = acts.Add("mla.q", tokens * heads * qk);                    // (T, H·qk) after RoPE
        _kva = acts.Add("mla.kva", tokens * kvaWidth);                  // (T, kvl + rope) = [c_kv | k_pe after RoPE]
        _ckv = acts.Add("mla.ckv", tokens * kvl);                       // (T, kvl) c_kv before its norm
        _ckvRstd = acts.Add("mla.ckv_rstd", tokens);                    // (T)
        _ckvn = acts.Add("mla.ckvn", tokens * kvl);                     // (T, kvl)
        _k = acts.Add("mla.k", tokens * heads * qk);                    // (T, H·qk) = per head [k_nope | k_pe]
        _v = acts.Add("mla.v", tokens * heads * vd);                    // (T, H·v)
        _probs = acts.Add("mla.probs", (long)heads * tokens * tokens);  // (H, T, T)
        _attn = acts.Add("mla.attn", tokens * heads * vd);              // (T, H·v)

        _kv = scratch.Add("mla.kv", tokens * kvWidth);                  // (T, H·(nope+v))
        _dAttn = scratch.Add("mla.d_attn", tokens * heads * vd);        // (T, H·v)
        _dq = scratch.Add("mla.d_q", tokens * heads * qk);              // (T, H·qk)
        _dk = scratch.Add("mla.d_k", tokens * heads * qk);              // (T, H·qk)
        _dv = scratch.Add("mla.d_v", tokens * heads * vd);              // (T, H·v)
        _dkv = scratch.Add("mla.d_kv", tokens * kvWidth);               // (T, H·(nope+v))
        _dkva = scratch.Add("mla.d_kva", tokens * kvaWidth);            // (T, kvl + rope)
        _dckvn = scratch.Add("mla.d_ckvn", tokens * kvl);               // (T, kvl)
        _dckv = scratch.Add("mla.d_ckv", tokens * kvl);                 // (T, kvl)
        _dqan = scratch.Add("mla.d_qan", tokens * qr);                  // (T, q_lora)
        _dqa = scratch.Add("mla.d_qa", tokens * qr);                    // (T, q_lora)
        _dp = scratch.Add("mla.d_p", tokens);                           // (T) one row of dP
    }

    /// <summary>LoRA branches of the projections (null: none).</summary>
    internal LoraBranches<T>? Lora { get; set; }

    /// <summary>y [T, hidden] = MLA(x [T, hidden]).</summary>
    public void Forward(MlaParameters<T> p, ReadOnlySpan<T> x, Span<T> y)
    {
        var c = _c;
        int t = _tokens, h = c.HiddenSize, heads = c.NumAttentionHeads, nope = c.QkNopeHeadDim, rope = c.QkRopeHeadDim, vd = c.VHeadDim, kvl = c.KvLoraRank;
        int qk = nope + rope, kvaWidth = kvl + rope;
        var eps = T.CreateChecked(c.RmsNormEps);
        var lora = Lora;
        var a = _acts;
        Span<T> q = a[_q], kva = a[_kva], ckv = a[_ckv], ckvn = a[_ckvn], k = a[_k], v = a[_v], attn = a[_attn];
        x[..(t * h)].CopyTo(a[_x]);
        if (c.QLoraRank is { } qr)
        {
            Projection.Forward(lora, x, p.WqA!, [], a[_qa], t, h, qr);
            RmsNormOp.Forward<T>(a[_qa], p.QNorm, eps, a[_qan], a[_qaRstd], t, qr);
            Projection.Forward(lora, a[_qan], p.WqB!, [], q, t, qr, heads * qk);
        }
        else
        {
            Projection.Forward(lora, x, p.Wq!, [], q, t, h, heads * qk);
        }
        RopeOp.Forward<T>(q, t, heads, qk, nope, _positions, _rope);

        Projection.Forward(lora, x, p.WkvA, [], kva, t, h, kvaWidth);
        for (var i = 0; i < t; i++) kva.Slice(i * kvaWidth, kvl).CopyTo(ckv.Slice(i * kvl, kvl));
        RmsNormOp.Forward<T>(ckv, p.KvNorm, eps, ckvn, a[_ckvRstd], t, kvl);
        RopeOp.Forward<T>(kva, t, 1, kvaWidth, kvl, _positions, _rope);  // rotates k_pe in place

        var kv = _scratch[_kv];                                         // (T, H·(nope+v))
        Projection.Forward(lora, ckvn, p.WkvB, [], kv, t, kvl, heads * (nope + vd));
        for (var i = 0; i < t; i++)
            for (var hh = 0; hh < heads; hh++)
            {
                var src = kv.Slice((i * heads + hh) * (nope + vd), nope + vd);
                src[..nope].CopyTo(k.Slice((i * heads + hh) * qk, nope));
                kva.Slice(i * kvaWidth + kvl, rope).CopyTo(k.Slice((i * heads + hh) * qk + nope, rope));
                src[nope..].CopyTo(v.Slice((i * heads + hh) * vd, vd));
            }
        AttentionOp.Forward<T>(q, k, v, attn, a[_probs], t, heads, heads, qk, vd, T.CreateChecked(c.SoftmaxScale));
        Projection.Forward(lora, attn, p.Wo, [], y, t, heads * vd, h);
    }

    /// <summary>Accumulates <paramref name="grads"/> and <paramref name="dx"/> from <paramref name="dy"/> (after <see cref="Forward"/>).</summary>
    public void Backward(MlaParameters<T> p, ReadOnlySpan<T> dy, MlaParameters<T> grads, Span<T> dx)
    {
        var c = _c;
        int t = _tokens, h = c.HiddenSize, heads = c.NumAttentionHeads, nope = c.QkNopeHeadDim, rope = c.QkRopeHeadDim, vd = c.VHeadDim, kvl = c.KvLoraRank;
        int qk = nope + rope, kvaWidth = kvl + rope;
        var lora = Lora;
        var a = _acts;
        var s = _scratch;
        Span<T> dAttn = s[_dAttn], dq = s[_dq], dk = s[_dk], dv = s[_dv], dkv = s[_dkv], dkva = s[_dkva], dckvn = s[_dckvn], dckv = s[_dckv];
        Span<T> x = a[_x];

        dAttn.Clear();
        Projection.Backward(lora, dy, a[_attn], p.Wo, dAttn, grads.Wo, [], t, heads * vd, h);
        dq.Clear();
        dk.Clear();
        dv.Clear();
        AttentionOp.Backward<T>(dAttn, a[_q], a[_k], a[_v], a[_probs], dq, dk, dv, t, heads, heads, qk, vd, T.CreateChecked(c.SoftmaxScale), s[_dp]);

        // Split dk/dv back into kv_b's output and the shared k_pe (summed over heads).
        dkva.Clear();
        for (var i = 0; i < t; i++)
            for (var hh = 0; hh < heads; hh++)
            {
                var dst = dkv.Slice((i * heads + hh) * (nope + vd), nope + vd);
                dk.Slice((i * heads + hh) * qk, nope).CopyTo(dst[..nope]);
                dv.Slice((i * heads + hh) * vd, vd).CopyTo(dst[nope..]);
                var dpe = dk.Slice((i * heads + hh) * qk + nope, rope);
                var acc = dkva.Slice(i * kvaWidth + kvl, rope);
                for (var d = 0; d < rope; d++) acc[d] += dpe[d];
            }
        dckvn.Clear();
        Projection.Backward(lora, dkv, a[_ckvn], p.WkvB, dckvn, grads.WkvB, [], t, kvl, heads * (nope + vd));
        RopeOp.Backward<T>(dkva, t, 1, kvaWidth, kvl, _positions, _rope);  // k_pe part back through its rotation
        dckv.Clear();
        RmsNormOp.Backward<T>(dckvn, a[_ckv], p.KvNorm, a[_ckvRstd], dckv, grads.KvNorm, t, kvl);
        for (var i = 0; i < t; i++) dckv.Slice(i * kvl, kvl).CopyTo(dkva.Slice(i * kvaWidth, kvl));
        Projection.Backward(lora, dkva, x, p.WkvA, dx, grads.WkvA, [], t, h, kvaWidth);

        RopeOp.Backward<T>(dq, t, heads, qk, nope, _positions, _rope);
        if (c.QLoraRank is { } qr)
        {
            Span<T> dqan = s[_dqan], dqa = s[_dqa];
            dqan.Clear();
            Projection.Backward(lora, dq, a[_qan], p.WqB!, dqan, grads.WqB, [], t, qr, heads * qk);
            dqa.Clear();
            RmsNormOp.Backward<T>(dqan, a[_qa], p.QNorm, a[_qaRstd], dqa, grads.QNorm, t, qr);
            Projection.Backward(lora, dqa, x, p.WqA!, dx, grads.WqA, [], t, h, qr);
        }
        else
        {
            Projection.Backward(lora, dq, x, p.Wq!, dx, grads.Wq, [], t, h, heads * qk);
        }
    }
}
