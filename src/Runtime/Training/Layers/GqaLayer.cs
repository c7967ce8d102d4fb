using System.Numerics;
using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Model;
using DeepSeek.Runtime.Tensors;
using DeepSeek.Runtime.Training.Lora;
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

/// <summary>Grouped-query attention for training over one causal sequence (rotate_half RoPE on q and k); buffers planned in arenas.</summary>
public sealed class GqaLayer<T> where T : IFloatingPointIeee754<T>
{
    private readonly ModelConfig _c;
    private readonly RopeTable _rope;
    private readonly int _tokens;
    private readonly int[] _positions;
    private readonly ArenaArray<T> _acts, _scratch;
    private readonly ArenaSlice _x, _q, _k, _v, _probs, _attn;          // kept
    private readonly ArenaSlice _dAttn, _dq, _dk, _dv, _dp;             // scratch

    /// <summary>Plans the activations for sequences of <paramref name="tokens"/>.</summary>
    public GqaLayer(ModelConfig config, RopeTable rope, int tokens) : this(config, rope, tokens, new ArenaArray<T>(), new ArenaArray<T>())
    {
    }

    /// <summary>Plans the kept activations in <paramref name="acts"/> and the scratch in <paramref name="scratch"/>.</summary>
    internal GqaLayer(ModelConfig config, RopeTable rope, int tokens, ArenaArray<T> acts, ArenaArray<T> scratch)
    {
        _c = config;
        _rope = rope;
        _tokens = tokens;
        _positions = Enumerable.Range(0, tokens).ToArray();
        (_acts, _scratch) = (acts, scratch);
        int heads = config.NumAttentionHeads, kvHeads = config.NumKeyValueHeads, hd = config.HeadDim;
        _x = acts.Add("gqa.x", tokens * config.HiddenSize);             // (T, hidden)
        _q = acts.Add("gqa.q", tokens * heads * hd);                    // (T, H·hd)
        _k = acts.Add("gqa.k", tokens * kvHeads * hd);                  // (T, Hkv·hd)
        _v = acts.Add("gqa.v", tokens * kvHeads * hd);                  // (T, Hkv·hd)
        _probs = acts.Add("gqa.probs", (long)heads * tokens * tokens);  // (H, T, T)
        _attn = acts.Add("gqa.attn", tokens * heads * hd);              // (T, H·hd)
        _dAttn = scratch.Add("gqa.d_attn", tokens * heads * hd);
        _dq = scratch.Add("gqa.d_q", tokens * heads * hd);
        _dk = scratch.Add("gqa.d_k", tokens * kvHeads * hd);
        _dv = scratch.Add("gqa.d_v", tokens * kvHeads * hd);
        _dp = scratch.Add("gqa.d_p", tokens);
    }

    /// <summary>LoRA branches of the projections (null: none).</summary>
    internal LoraBranches<T>? Lora { get; set; }

    /// <summary>y [T, hidden] = GQA(x).</summary>
    public void Forward(GqaParameters<T> p, ReadOnlySpan<T> x, Span<T> y)
    {
        int t = _tokens, h = _c.HiddenSize, heads = _c.NumAttentionHeads, kvHeads = _c.NumKeyValueHeads, hd = _c.HeadDim;
        var a = _acts;
        Span<T> q = a[_q], k = a[_k], v = a[_v], attn = a[_attn];
        x[..(t * h)].CopyTo(a[_x]);
        Projection.Forward(Lora, x, p.Wq, p.Bq, q, t, h, heads * hd);
        Projection.Forward(Lora, x, p.Wk, p.Bk, k, t, h, kvHeads * hd);
        Projection.Forward(Lora, x, p.Wv, p.Bv, v, t, h, kvHeads * hd);
        RopeOp.Forward<T>(q, t, heads, hd, 0, _positions, _rope);
        RopeOp.Forward<T>(k, t, kvHeads, hd, 0, _positions, _rope);
        AttentionOp.Forward<T>(q, k, v, attn, a[_probs], t, heads, kvHeads, hd, hd, T.CreateChecked(_c.SoftmaxScale));
        Projection.Forward(Lora, attn, p.Wo, p.Bo, y, t, heads * hd, h);
    }

    /// <summary>Accumulates parameter gradients and dx.</summary>
    public void Backward(GqaParameters<T> p, ReadOnlySpan<T> dy, GqaParameters<T> grads, Span<T> dx)
    {
        int t = _tokens, h = _c.HiddenSize, heads = _c.NumAttentionHeads, kvHeads = _c.NumKeyValueHeads, hd = _c.HeadDim;
        var a = _acts;
        var s = _scratch;
        Span<T> dAttn = s[_dAttn], dq = s[_dq], dk = s[_dk], dv = s[_dv], x = a[_x];
        dAttn.Clear();
        Projection.Backward(Lora, dy, a[_attn], p.Wo, dAttn, grads.Wo, grads.Bo, t, heads * hd, h);
        dq.Clear();
        dk.Clear();
        dv.Clear();
        AttentionOp.Backward<T>(dAttn, a[_q], a[_k], a[_v], a[_probs], dq, dk, dv, t, heads, kvHeads, hd, hd, T.CreateChecked(_c.SoftmaxScale), s[_dp]);
        RopeOp.Backward<T>(dq, t, heads, hd, 0, _positions, _rope);
        RopeOp.Backward<T>(dk, t, kvHeads, hd, 0, _positions, _rope);
        Projection.Backward(Lora, dq, x, p.Wq, dx, grads.Wq, grads.Bq, t, h, heads * hd);
        Projection.Backward(Lora, dk, x, p.Wk, dx, grads.Wk, grads.Bk, t, h, kvHeads * hd);
        Projection.Backward(Lora, dv, x, p.Wv, dx, grads.Wv, grads.Bv, t, h, kvHeads * hd);
    }
}
