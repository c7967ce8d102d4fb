using System.Numerics;
using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Model;
using DeepSeek.Runtime.Training.Ops;

namespace DeepSeek.Runtime.Training.Layers;

/// <summary>GQA weights (or gradients) of the dense distills; biases where the architecture has them.</summary>
public sealed class GqaParameters<T> where T : IFloatingPointIeee754<T>
{
    /// <summary>Allocates zeroed parameters for <paramref name="c"/>.</summary>
    public GqaParameters(ModelConfig c)
    {
        int h = c.HiddenSize, q = c.NumAttentionHeads * c.HeadDim, kv = c.NumKeyValueHeads * c.HeadDim;
        Wq = new T[q * h];
        Wk = new T[kv * h];
        Wv = new T[kv * h];
        Wo = new T[h * q];
        var qkvBias = c.AttentionBias || c.Architecture == ModelArchitecture.Qwen2;
        if (qkvBias) (Bq, Bk, Bv) = (new T[q], new T[kv], new T[kv]);
        if (c.AttentionBias && c.Architecture == ModelArchitecture.Llama) Bo = new T[h];
    }

    /// <summary><c>q_proj</c>, <c>k_proj</c>, <c>v_proj</c>, <c>o_proj</c> weights.</summary>
    public T[] Wq { get; }
    /// <summary><c>k_proj</c>.</summary>
    public T[] Wk { get; }
    /// <summary><c>v_proj</c>.</summary>
    public T[] Wv { get; }
    /// <summary><c>o_proj</c>.</summary>
    public T[] Wo { get; }
    /// <summary>Biases (Qwen2: q/k/v; Llama with attention_bias: all four).</summary>
    public T[]? Bq { get; }
    /// <summary><c>k_proj.bias</c>.</summary>
    public T[]? Bk { get; }
    /// <summary><c>v_proj.bias</c>.</summary>
    public T[]? Bv { get; }
    /// <summary><c>o_proj.bias</c>.</summary>
    public T[]? Bo { get; }

    /// <summary>Every tensor with its HF suffix (after <c>self_attn.</c>).</summary>
    public IEnumerable<(string Name, T[] Values)> Tensors()
    {
        yield return ("q_proj.weight", Wq);
        yield return ("k_proj.weight", Wk);
        yield return ("v_proj.weight", Wv);
        yield return ("o_proj.weight", Wo);
        if (Bq is not null) yield return ("q_proj.bias", Bq);
        if (Bk is not null) yield return ("k_proj.bias", Bk);
        if (Bv is not null) yield return ("v_proj.bias", Bv);
        if (Bo is not null) yield return ("o_proj.bias", Bo);
    }
}

/// <summary>Grouped-query attention for training over one causal sequence (rotate_half RoPE on q and k).</summary>
public sealed class GqaLayer<T> where T : IFloatingPointIeee754<T>
{
    private readonly ModelConfig _c;
    private readonly RopeTable _rope;
    private readonly int _tokens;
    private readonly int[] _positions;
    private readonly T[] _x, _q, _k, _v, _probs, _attn;

    /// <summary>Plans the activations for sequences of <paramref name="tokens"/>.</summary>
    public GqaLayer(ModelConfig config, RopeTable rope, int tokens)
    {
        _c = config;
        _rope = rope;
        _tokens = tokens;
        _positions = Enumerable.Range(0, tokens).ToArray();
        int heads = config.NumAttentionHeads, kvHeads = config.NumKeyValueHeads, hd = config.HeadDim;
        _x = new T[tokens * config.HiddenSize];
        _q = new T[tokens * heads * hd];
        _k = new T[tokens * kvHeads * hd];
        _v = new T[tokens * kvHeads * hd];
        _probs = new T[heads * tokens * tokens];
        _attn = new T[tokens * heads * hd];
    }

    /// <summary>y [T, hidden] = GQA(x).</summary>
    public void Forward(GqaParameters<T> p, ReadOnlySpan<T> x, Span<T> y)
    {
        int t = _tokens, h = _c.HiddenSize, heads = _c.NumAttentionHeads, kvHeads = _c.NumKeyValueHeads, hd = _c.HeadDim;
        x.CopyTo(_x);
        LinearOp.Forward<T>(x, p.Wq, p.Bq, _q, t, h, heads * hd);
        LinearOp.Forward<T>(x, p.Wk, p.Bk, _k, t, h, kvHeads * hd);
        LinearOp.Forward<T>(x, p.Wv, p.Bv, _v, t, h, kvHeads * hd);
        RopeOp.Forward<T>(_q, t, heads, hd, 0, _positions, _rope);
        RopeOp.Forward<T>(_k, t, kvHeads, hd, 0, _positions, _rope);
        AttentionOp.Forward<T>(_q, _k, _v, _attn, _probs, t, heads, kvHeads, hd, hd, T.CreateChecked(_c.SoftmaxScale));
        LinearOp.Forward<T>(_attn, p.Wo, p.Bo, y, t, heads * hd, h);
    }

    /// <summary>Accumulates parameter gradients and dx.</summary>
    public void Backward(GqaParameters<T> p, ReadOnlySpan<T> dy, GqaParameters<T> grads, Span<T> dx)
    {
        int t = _tokens, h = _c.HiddenSize, heads = _c.NumAttentionHeads, kvHeads = _c.NumKeyValueHeads, hd = _c.HeadDim;
        var dAttn = new T[_attn.Length];
        LinearOp.Backward<T>(dy, _attn, p.Wo, dAttn, grads.Wo, grads.Bo, t, heads * hd, h);
        var dq = new T[_q.Length];
        var dk = new T[_k.Length];
        var dv = new T[_v.Length];
        AttentionOp.Backward<T>(dAttn, _q, _k, _v, _probs, dq, dk, dv, t, heads, kvHeads, hd, hd, T.CreateChecked(_c.SoftmaxScale));
        RopeOp.Backward<T>(dq, t, heads, hd, 0, _positions, _rope);
        RopeOp.Backward<T>(dk, t, kvHeads, hd, 0, _positions, _rope);
        LinearOp.Backward<T>(dq, _x, p.Wq, dx, grads.Wq, grads.Bq, t, h, heads * hd);
        LinearOp.Backward<T>(dk, _x, p.Wk, dx, grads.Wk, grads.Bk, t, h, kvHeads * hd);
        LinearOp.Backward<T>(dv, _x, p.Wv, dx, grads.Wv, grads.Bv, t, h, kvHeads * hd);
    }
}
