using System.Numerics;
using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Model;
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
/// parameter gradients and the input gradient (llm.c convention).
/// </summary>
public sealed class MlaLayer<T> where T : IFloatingPointIeee754<T>
{
    private readonly ModelConfig _c;
    private readonly RopeTable _rope;
    private readonly int _tokens;
    private readonly int[] _positions;
    // Activations, shapes in comments (T tokens).
    private readonly T[] _x, _qa, _qaRstd, _qan, _q, _kva, _ckvRstd, _ckvn, _k, _v, _probs, _attn;

    /// <summary>Plans the activations for sequences of <paramref name="tokens"/>.</summary>
    public MlaLayer(ModelConfig config, RopeTable rope, int tokens)
    {
        _c = config;
        _rope = rope;
        _tokens = tokens;
        _positions = Enumerable.Range(0, tokens).ToArray();
        int h = config.HiddenSize, heads = config.NumAttentionHeads, qk = config.QkHeadDim;
        var qr = config.QLoraRank ?? 0;
        _x = new T[tokens * h];                                         // (T, hidden)
        _qa = new T[tokens * qr];                                       // (T, q_lora)
        _qaRstd = new T[tokens];
        _qan = new T[tokens * qr];
        _q = new T[tokens * heads * qk];                                // (T, H·qk) after RoPE
        _kva = new T[tokens * (config.KvLoraRank + config.QkRopeHeadDim)]; // (T, kvl + rope) = [c_kv | k_pe after RoPE]
        _ckvRstd = new T[tokens];
        _ckvn = new T[tokens * config.KvLoraRank];                      // (T, kvl)
        _k = new T[tokens * heads * qk];                                // (T, H·qk) = per head [k_nope | k_pe]
        _v = new T[tokens * heads * config.VHeadDim];                   // (T, H·v)
        _probs = new T[heads * tokens * tokens];                        // (H, T, T)
        _attn = new T[tokens * heads * config.VHeadDim];                // (T, H·v)
    }

    /// <summary>y [T, hidden] = MLA(x [T, hidden]).</summary>
    public void Forward(MlaParameters<T> p, ReadOnlySpan<T> x, Span<T> y)
    {
        var c = _c;
        int t = _tokens, h = c.HiddenSize, heads = c.NumAttentionHeads, nope = c.QkNopeHeadDim, rope = c.QkRopeHeadDim, vd = c.VHeadDim, kvl = c.KvLoraRank;
        int qk = nope + rope, kvaWidth = kvl + rope;
        var eps = T.CreateChecked(c.RmsNormEps);
        x.CopyTo(_x);
        if (c.QLoraRank is { } qr)
        {
            LinearOp.Forward<T>(x, p.WqA, [], _qa, t, h, qr);
            RmsNormOp.Forward<T>(_qa, p.QNorm, eps, _qan, _qaRstd, t, qr);
            LinearOp.Forward<T>(_qan, p.WqB, [], _q, t, qr, heads * qk);
        }
        else
        {
            LinearOp.Forward<T>(x, p.Wq, [], _q, t, h, heads * qk);
        }
        RopeOp.Forward<T>(_q, t, heads, qk, nope, _positions, _rope);

        LinearOp.Forward<T>(x, p.WkvA, [], _kva, t, h, kvaWidth);
        RmsNormOp.Forward<T>(CkvBeforeNorm(), p.KvNorm, eps, _ckvn, _ckvRstd, t, kvl);
        RopeOp.Forward<T>(_kva, t, 1, kvaWidth, kvl, _positions, _rope);  // rotates k_pe in place

        var kv = new T[t * heads * (nope + vd)];                        // (T, H·(nope+v))
        LinearOp.Forward<T>(_ckvn, p.WkvB, [], kv, t, kvl, heads * (nope + vd));
        for (var i = 0; i < t; i++)
            for (var hh = 0; hh < heads; hh++)
            {
                var src = kv.AsSpan((i * heads + hh) * (nope + vd), nope + vd);
                src[..nope].CopyTo(_k.AsSpan((i * heads + hh) * qk, nope));
                _kva.AsSpan(i * kvaWidth + kvl, rope).CopyTo(_k.AsSpan((i * heads + hh) * qk + nope, rope));
                src[nope..].CopyTo(_v.AsSpan((i * heads + hh) * vd, vd));
            }
        AttentionOp.Forward<T>(_q, _k, _v, _attn, _probs, t, heads, heads, qk, vd, T.CreateChecked(c.SoftmaxScale));
        LinearOp.Forward<T>(_attn, p.Wo, [], y, t, heads * vd, h);
    }

    /// <summary>Accumulates <paramref name="grads"/> and <paramref name="dx"/> from <paramref name="dy"/> (after <see cref="Forward"/>).</summary>
    public void Backward(MlaParameters<T> p, ReadOnlySpan<T> dy, MlaParameters<T> grads, Span<T> dx)
    {
        var c = _c;
        int t = _tokens, h = c.HiddenSize, heads = c.NumAttentionHeads, nope = c.QkNopeHeadDim, rope = c.QkRopeHeadDim, vd = c.VHeadDim, kvl = c.KvLoraRank;
        int qk = nope + rope, kvaWidth = kvl + rope;

        var dAttn = new T[_attn.Length];
        LinearOp.Backward<T>(dy, _attn, p.Wo, dAttn, grads.Wo, [], t, heads * vd, h);
        var dq = new T[_q.Length];
        var dk = new T[_k.Length];
        var dv = new T[_v.Length];
        AttentionOp.Backward<T>(dAttn, _q, _k, _v, _probs, dq, dk, dv, t, heads, heads, qk, vd, T.CreateChecked(c.SoftmaxScale));

        // Split dk/dv back into kv_b's output and the shared k_pe (summed over heads).
        var dkv = new T[t * heads * (nope + vd)];
        var dkva = new T[_kva.Length];
        for (var i = 0; i < t; i++)
            for (var hh = 0; hh < heads; hh++)
            {
                var dst = dkv.AsSpan((i * heads + hh) * (nope + vd), nope + vd);
                dk.AsSpan((i * heads + hh) * qk, nope).CopyTo(dst[..nope]);
                dv.AsSpan((i * heads + hh) * vd, vd).CopyTo(dst[nope..]);
                var dpe = dk.AsSpan((i * heads + hh) * qk + nope, rope);
                var acc = dkva.AsSpan(i * kvaWidth + kvl, rope);
                for (var d = 0; d < rope; d++) acc[d] += dpe[d];
            }
        var dckvn = new T[_ckvn.Length];
        LinearOp.Backward<T>(dkv, _ckvn, p.WkvB, dckvn, grads.WkvB, [], t, kvl, heads * (nope + vd));
        RopeOp.Backward<T>(dkva, t, 1, kvaWidth, kvl, _positions, _rope);  // k_pe part back through its rotation
        var dckv = new T[t * kvl];
        RmsNormOp.Backward<T>(dckvn, CkvBeforeNorm(), p.KvNorm, _ckvRstd, dckv, grads.KvNorm, t, kvl);
        for (var i = 0; i < t; i++) dckv.AsSpan(i * kvl, kvl).CopyTo(dkva.AsSpan(i * kvaWidth, kvl));
        LinearOp.Backward<T>(dkva, _x, p.WkvA, dx, grads.WkvA, [], t, h, kvaWidth);

        RopeOp.Backward<T>(dq, t, heads, qk, nope, _positions, _rope);
        if (c.QLoraRank is { } qr)
        {
            var dqan = new T[_qan.Length];
            LinearOp.Backward<T>(dq, _qan, p.WqB, dqan, grads.WqB, [], t, qr, heads * qk);
            var dqa = new T[_qa.Length];
            RmsNormOp.Backward<T>(dqan, _qa, p.QNorm, _qaRstd, dqa, grads.QNorm, t, qr);
            LinearOp.Backward<T>(dqa, _x, p.WqA, dx, grads.WqA, [], t, h, qr);
        }
        else
        {
            LinearOp.Backward<T>(dq, _x, p.Wq, dx, grads.Wq, [], t, h, heads * qk);
        }
    }

    /// <summary>c_kv before its norm (T, kvl): the first kv_lora columns of x·WkvAᵀ, which RoPE (on k_pe) leaves untouched.</summary>
    private T[] CkvBeforeNorm()
    {
        int kvl = _c.KvLoraRank, kvaWidth = kvl + _c.QkRopeHeadDim;
        var ckv = new T[_tokens * kvl];
        for (var i = 0; i < _tokens; i++) _kva.AsSpan(i * kvaWidth, kvl).CopyTo(ckv.AsSpan(i * kvl, kvl));
        return ckv;
    }
}
