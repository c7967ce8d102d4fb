using System.Numerics;
using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Model;
using DeepSeek.Runtime.Tensors;
using DeepSeek.Runtime.Training.Lora;
using DeepSeek.Runtime.Training.Layers;
using DeepSeek.Runtime.Training.Ops;

namespace DeepSeek.Runtime.Training;

/// <summary>
/// One pre-norm decoder block over one sequence of fixed length, forward then backward:
/// x += Attn(norm(x)); x += FFN(norm(x)). Keeps the block's activations between the two passes, planned once in the
/// model's activation arena; its forward temporaries and activation gradients (and its layers') form one overlay of the
/// scratch arena, which every block shares because only one block runs at a time.
/// </summary>
internal sealed class BlockTrainer<T> where T : IFloatingPointIeee754<T>
{
    private readonly ModelConfig _c;
    private readonly int _tokens;
    private readonly MlaLayer<T>? _mla;
    private readonly GqaLayer<T>? _gqa;
    private readonly MoeLayer<T>? _moe;
    private readonly IMoeBranch<T>? _moeBranch;                             // _moe, or the factory's (e.g. expert-parallel) layer
    private readonly MlpBuffers<T>? _mlp;
    private readonly ArenaArray<T> _acts, _scratch;
    private readonly ArenaSlice _xIn, _xMid, _hA, _hF, _rstdA, _rstdF;     // kept
    private readonly ArenaSlice _branch, _dBranch, _dh;                     // scratch
    private LoraBranches<T>? _lora;

    /// <summary>
    /// Plans a block of the kind (dense or MoE) of <paramref name="layer"/>; it may run any layer of that kind (with
    /// activation recomputation one instance serves them all). <paramref name="balanceAlpha"/> is α of the MoE balance loss.
    /// </summary>
    public BlockTrainer(ModelConfig config, RopeTable rope, int tokens, int layer, T balanceAlpha)
        : this(config, rope, tokens, layer, balanceAlpha, new ArenaArray<T>(), new ArenaArray<T>())
    {
    }

    /// <summary>As the public constructor, planning into the model's arenas (one new overlay of <paramref name="scratch"/>).</summary>
    public BlockTrainer(ModelConfig config, RopeTable rope, int tokens, int layer, T balanceAlpha, ArenaArray<T> acts, ArenaArray<T> scratch)
        : this(config, rope, tokens, layer, balanceAlpha, acts, scratch, moe: null)
    {
    }

    /// <summary>As above; MoE layers get their branch from <paramref name="moe"/> when given (no LoRA on it), else a <see cref="MoeLayer{T}"/>.</summary>
    public BlockTrainer(ModelConfig config, RopeTable rope, int tokens, int layer, T balanceAlpha, ArenaArray<T> acts, ArenaArray<T> scratch, MoeBranchFactory<T>? moe)
    {
        _c = config;
        _tokens = tokens;
        Layer = layer;
        (_acts, _scratch) = (acts, scratch);
        scratch.BeginOverlay();
        if (config.IsMla) _mla = new MlaLayer<T>(config, rope, tokens, acts, scratch);
        else _gqa = new GqaLayer<T>(config, rope, tokens, acts, scratch);
        if (config.IsMoeLayer(layer) && moe is not null) _moeBranch = moe(layer, tokens, balanceAlpha);
        else if (config.IsMoeLayer(layer)) _moeBranch = _moe = new MoeLayer<T>(config, tokens, balanceAlpha, acts, scratch);
        else _mlp = new MlpBuffers<T>(acts, scratch, "mlp", tokens, config.IntermediateSize);
        var n = tokens * config.HiddenSize;
        _xIn = acts.Add("block.x_in", n);                               // (T, hidden)
        _xMid = acts.Add("block.x_mid", n);                             // (T, hidden) after attention
        _hA = acts.Add("block.h_attn", n);                              // (T, hidden) attention input, normed
        _hF = acts.Add("block.h_ffn", n);                               // (T, hidden) FFN input, normed
        _rstdA = acts.Add("block.rstd_attn", tokens);
        _rstdF = acts.Add("block.rstd_ffn", tokens);
        _branch = scratch.Add("block.branch", n);                       // (T, hidden) a branch's output
        _dBranch = scratch.Add("block.d_branch", n);
        _dh = scratch.Add("block.d_h", n);
    }

    /// <summary>Layer index it was planned for.</summary>
    public int Layer { get; }

    /// <summary>Tokens each expert received in the last forward (MoE blocks), else null.</summary>
    public int[]? Load => _moeBranch?.Load;

    /// <summary>The MoE balance loss of the last forward (0 for dense blocks or α = 0).</summary>
    public T BalanceLoss => _moeBranch is null ? T.Zero : _moeBranch.BalanceLoss;

    /// <summary>LoRA branches of the block's projections (null: none).</summary>
    public LoraBranches<T>? Lora
    {
        get => _lora;
        set
        {
            _lora = value;
            if (_mla is not null) _mla.Lora = value;
            if (_gqa is not null) _gqa.Lora = value;
            if (_moe is not null) _moe.Lora = value;
            else if (_moeBranch is not null && value is not null) throw new InvalidOperationException("LoRA is not supported on an expert-parallel MoE branch.");
        }
    }

    /// <summary>Updates <paramref name="x"/> [T, hidden] in place.</summary>
    public void Forward(BlockParameters<T> p, Span<T> x, float[]? routerBias)
    {
        int t = _tokens, h = _c.HiddenSize;
        var eps = T.CreateChecked(_c.RmsNormEps);
        var a = _acts;
        Span<T> hA = a[_hA], hF = a[_hF], branch = _scratch[_branch];
        x.CopyTo(a[_xIn]);
        RmsNormOp.Forward<T>(x, p.AttnNorm, eps, hA, a[_rstdA], t, h);
        if (_mla is not null) _mla.Forward(p.Mla!, hA, branch);
        else _gqa!.Forward(p.Gqa!, hA, branch);
        Add(x, branch);
        x.CopyTo(a[_xMid]);
        RmsNormOp.Forward<T>(x, p.FfnNorm, eps, hF, a[_rstdF], t, h);
        if (_moeBranch is not null) _moeBranch.Forward(p.Moe!, hF, routerBias, branch);
        else _mlp!.Forward(p.Mlp!, hF, branch, 0, t, _lora);
        Add(x, branch);
    }

    /// <summary>
    /// Turns dx (w.r.t. the block's output) into dx w.r.t. its input, accumulating parameter gradients; the MoE balance
    /// loss enters with weight <paramref name="balanceScale"/>.
    /// </summary>
    public void Backward(BlockParameters<T> p, Span<T> dx, BlockParameters<T> grads, T balanceScale)
    {
        int t = _tokens, h = _c.HiddenSize;
        var a = _acts;
        Span<T> dBranch = _scratch[_dBranch], dh = _scratch[_dh];
        // Residual: the output gradient reaches the input unchanged, plus what flows through each branch.
        dx.CopyTo(dBranch);
        dh.Clear();
        if (_moeBranch is not null) _moeBranch.Backward(p.Moe!, dBranch, grads.Moe!, dh, balanceScale);
        else _mlp!.Backward(p.Mlp!, a[_hF], dBranch, grads.Mlp!, dh, 0, t, _lora);
        RmsNormOp.Backward<T>(dh, a[_xMid], p.FfnNorm, a[_rstdF], dx, grads.FfnNorm, t, h);

        dx.CopyTo(dBranch);
        dh.Clear();
        if (_mla is not null) _mla.Backward(p.Mla!, dBranch, grads.Mla!, dh);
        else _gqa!.Backward(p.Gqa!, dBranch, grads.Gqa!, dh);
        RmsNormOp.Backward<T>(dh, a[_xIn], p.AttnNorm, a[_rstdA], dx, grads.AttnNorm, t, h);
    }

    private static void Add(Span<T> x, ReadOnlySpan<T> y)
    {
        for (var i = 0; i < x.Length; i++) x[i] += y[i];
    }
}
