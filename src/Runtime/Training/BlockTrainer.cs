using System.Numerics;
using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Model;
using DeepSeek.Runtime.Training.Layers;
using DeepSeek.Runtime.Training.Ops;

namespace DeepSeek.Runtime.Training;

/// <summary>
/// One pre-norm decoder block over one sequence of fixed length, forward then backward:
/// x += Attn(norm(x)); x += FFN(norm(x)). Keeps the block's activations between the two passes.
/// </summary>
internal sealed class BlockTrainer<T> where T : IFloatingPointIeee754<T>
{
    private readonly ModelConfig _c;
    private readonly int _tokens;
    private readonly MlaLayer<T>? _mla;
    private readonly GqaLayer<T>? _gqa;
    private readonly MoeLayer<T>? _moe;
    private MlpLayer.Saved<T>? _mlp;
    private readonly T[] _xIn, _xMid, _hA, _hF, _rstdA, _rstdF;

    /// <summary>
    /// Plans a block of the kind (dense or MoE) of <paramref name="layer"/>; it may run any layer of that kind (with
    /// activation recomputation one instance serves them all). <paramref name="balanceAlpha"/> is α of the MoE balance loss.
    /// </summary>
    public BlockTrainer(ModelConfig config, RopeTable rope, int tokens, int layer, T balanceAlpha)
    {
        _c = config;
        _tokens = tokens;
        Layer = layer;
        if (config.IsMla) _mla = new MlaLayer<T>(config, rope, tokens);
        else _gqa = new GqaLayer<T>(config, rope, tokens);
        if (config.IsMoeLayer(layer)) _moe = new MoeLayer<T>(config, tokens, balanceAlpha);
        var n = tokens * config.HiddenSize;
        (_xIn, _xMid, _hA, _hF) = (new T[n], new T[n], new T[n], new T[n]);
        (_rstdA, _rstdF) = (new T[tokens], new T[tokens]);
    }

    /// <summary>Layer index it was planned for.</summary>
    public int Layer { get; }

    /// <summary>Tokens each expert received in the last forward (MoE blocks), else null.</summary>
    public int[]? Load => _moe?.Load;

    /// <summary>The MoE balance loss of the last forward (0 for dense blocks or α = 0).</summary>
    public T BalanceLoss => _moe is null ? T.Zero : _moe.BalanceLoss;

    /// <summary>Updates <paramref name="x"/> [T, hidden] in place.</summary>
    public void Forward(BlockParameters<T> p, Span<T> x, float[]? routerBias)
    {
        int t = _tokens, h = _c.HiddenSize;
        var eps = T.CreateChecked(_c.RmsNormEps);
        x.CopyTo(_xIn);
        RmsNormOp.Forward<T>(x, p.AttnNorm, eps, _hA, _rstdA, t, h);
        var a = new T[t * h];
        if (_mla is not null) _mla.Forward(p.Mla!, _hA, a);
        else _gqa!.Forward(p.Gqa!, _hA, a);
        Add(x, a);
        x.CopyTo(_xMid);
        RmsNormOp.Forward<T>(x, p.FfnNorm, eps, _hF, _rstdF, t, h);
        var f = new T[t * h];
        if (_moe is not null) _moe.Forward(p.Moe!, _hF, routerBias, f);
        else _mlp = MlpLayer.Forward(p.Mlp!, _hF, f, t);
        Add(x, f);
    }

    /// <summary>
    /// Turns dx (w.r.t. the block's output) into dx w.r.t. its input, accumulating parameter gradients; the MoE balance
    /// loss enters with weight <paramref name="balanceScale"/>.
    /// </summary>
    public void Backward(BlockParameters<T> p, Span<T> dx, BlockParameters<T> grads, T balanceScale)
    {
        int t = _tokens, h = _c.HiddenSize;
        // Residual: the output gradient reaches the input unchanged, plus what flows through each branch.
        var dBranch = dx.ToArray();
        var dh = new T[t * h];
        if (_moe is not null) _moe.Backward(p.Moe!, dBranch, grads.Moe!, dh, balanceScale);
        else MlpLayer.Backward(p.Mlp!, _mlp!, dBranch, grads.Mlp!, dh);
        RmsNormOp.Backward<T>(dh, _xMid, p.FfnNorm, _rstdF, dx, grads.FfnNorm, t, h);

        dBranch = dx.ToArray();
        Array.Clear(dh);
        if (_mla is not null) _mla.Backward(p.Mla!, dBranch, grads.Mla!, dh);
        else _gqa!.Backward(p.Gqa!, dBranch, grads.Gqa!, dh);
        RmsNormOp.Backward<T>(dh, _xIn, p.AttnNorm, _rstdA, dx, grads.AttnNorm, t, h);
    }

    private static void Add(Span<T> x, ReadOnlySpan<T> y)
    {
        for (var i = 0; i < x.Length; i++) x[i] += y[i];
    }
}
