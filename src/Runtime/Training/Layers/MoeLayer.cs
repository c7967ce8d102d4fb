using System.Numerics;
using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Model;
using DeepSeek.Runtime.Training.Ops;

namespace DeepSeek.Runtime.Training.Layers;

/// <summary>DeepSeekMoE weights (or gradients): router [n, hidden], routed experts, shared experts (one MLP).</summary>
public sealed class MoeParameters<T> where T : IFloatingPointIeee754<T>
{
    /// <summary>Allocates zeroed parameters for <paramref name="c"/>.</summary>
    public MoeParameters(ModelConfig c)
    {
        Router = new T[c.NRoutedExperts * c.HiddenSize];
        Experts = Enumerable.Range(0, c.NRoutedExperts).Select(_ => new MlpParameters<T>(c.HiddenSize, c.MoeIntermediateSize)).ToArray();
        Shared = c.NSharedExperts > 0 ? new MlpParameters<T>(c.HiddenSize, c.NSharedExperts * c.MoeIntermediateSize) : null;
    }

    /// <summary><c>mlp.gate.weight</c>.</summary>
    public T[] Router { get; }
    /// <summary><c>mlp.experts.{j}</c>.</summary>
    public MlpParameters<T>[] Experts { get; }
    /// <summary><c>mlp.shared_experts</c>.</summary>
    public MlpParameters<T>? Shared { get; }

    /// <summary>Every tensor.</summary>
    public IEnumerable<(string Name, T[] Values)> Tensors()
    {
        yield return ("gate", Router);
        for (var e = 0; e < Experts.Length; e++)
            foreach (var (n, v) in Experts[e].Tensors()) yield return ($"experts.{e}.{n}", v);
        if (Shared is not null)
            foreach (var (n, v) in Shared.Tensors()) yield return ($"shared_experts.{n}", v);
    }
}

/// <summary>
/// DeepSeekMoE for training: the choice of experts is made exactly as at inference (<see cref="Gate"/>, with the
/// aux-loss-free bias) and is not differentiated; gradients flow through the chosen experts' weights into the router
/// (<see cref="MoeGateOp"/>), through the experts, and through the shared experts. The forward also counts how many
/// tokens each expert received, the input of <see cref="AuxLossFreeBalancer"/>. With α &gt; 0 it also computes the
/// sequence-wise balance loss of its sequence (<see cref="BalanceLossOp"/>), whose gradient <see cref="Backward(MoeParameters{T}, ReadOnlySpan{T}, MoeParameters{T}, Span{T}, T)"/>
/// adds into the router; α = 0 skips it entirely.
/// </summary>
public sealed class MoeLayer<T> where T : IFloatingPointIeee754<T>
{
    private readonly ModelConfig _c;
    private readonly int _tokens;
    private T[] _x = [];
    private T[] _logits = [];
    private int[] _ids = [];
    private T[] _weights = [];
    private readonly List<(int Expert, int[] Rows, int[] Slots, MlpLayer.Saved<T> Saved, T[] Out)> _dispatch = [];
    private MlpLayer.Saved<T>? _shared;

    /// <summary>Plans a layer for <paramref name="tokens"/> tokens, without the balance loss.</summary>
    public MoeLayer(ModelConfig config, int tokens) : this(config, tokens, T.Zero)
    {
    }

    /// <summary>Plans a layer for <paramref name="tokens"/> tokens (one sequence) with balance-loss weight <paramref name="alpha"/> (V3: 0.0001; 0 = off).</summary>
    public MoeLayer(ModelConfig config, int tokens, T alpha)
    {
        _c = config ?? throw new ArgumentNullException(nameof(config));
        _tokens = tokens;
        if (!(alpha >= T.Zero)) throw new ArgumentOutOfRangeException(nameof(alpha), alpha, "must be ≥ 0");
        Alpha = alpha;
        Load = new int[config.NRoutedExperts];
    }

    /// <summary>α of the sequence-wise balance loss (0 = off).</summary>
    public T Alpha { get; }

    /// <summary>α Σ_i f_i P_i of the last forward's sequence (0 when α = 0).</summary>
    public T BalanceLoss { get; private set; } = T.Zero;

    /// <summary>Tokens routed to each expert by the last forward.</summary>
    public int[] Load { get; }

    /// <summary>y [T, hidden] = MoE(x); <paramref name="bias"/> is <c>e_score_correction_bias</c> (noaux_tc) or null.</summary>
    public void Forward(MoeParameters<T> p, ReadOnlySpan<T> x, float[]? bias, Span<T> y)
    {
        int t = _tokens, h = _c.HiddenSize, n = _c.NRoutedExperts, k = _c.NumExpertsPerTok;
        _x = x.ToArray();
        _logits = new T[t * n];
        LinearOp.Forward<T>(x, p.Router, [], _logits, t, h, n);
        // The choice: exactly the inference router, on the fp32 logits.
        _ids = new int[t * k];
        new Gate(_c, bias).Route(_logits.Select(float.CreateSaturating).ToArray(), t, _ids, new float[t * k]);
        _weights = new T[t * k];
        MoeGateOp.Forward<T>(_c, _logits, _ids, _weights, t);
        BalanceLoss = Alpha == T.Zero ? T.Zero : BalanceLossOp.Forward<T>(_c, _logits, _ids, t, Alpha);

        y.Clear();
        _shared = p.Shared is null ? null : MlpLayer.Forward(p.Shared, x, y, t);
        _dispatch.Clear();
        Array.Clear(Load);
        for (var e = 0; e < n; e++)
        {
            var slots = Enumerable.Range(0, t * k).Where(i => _ids[i] == e).ToArray();
            Load[e] = slots.Length;
            if (slots.Length == 0) continue;
            var rows = slots.Select(i => i / k).ToArray();
            var xe = new T[rows.Length * h];
            for (var r = 0; r < rows.Length; r++) x.Slice(rows[r] * h, h).CopyTo(xe.AsSpan(r * h, h));
            var ye = new T[rows.Length * h];
            var saved = MlpLayer.Forward(p.Experts[e], xe, ye, rows.Length);
            for (var r = 0; r < rows.Length; r++)
            {
                var w = _weights[slots[r]];
                for (var d = 0; d < h; d++) y[rows[r] * h + d] += w * ye[r * h + d];
            }
            _dispatch.Add((e, rows, slots, saved, ye));
        }
    }

    /// <summary>Accumulates parameter gradients and dx (after <see cref="Forward"/>) of ⟨dy, y⟩ + <see cref="BalanceLoss"/>.</summary>
    public void Backward(MoeParameters<T> p, ReadOnlySpan<T> dy, MoeParameters<T> grads, Span<T> dx) => Backward(p, dy, grads, dx, T.One);

    /// <summary>
    /// Accumulates parameter gradients and dx (after <see cref="Forward"/>) of ⟨dy, y⟩ + <paramref name="balanceScale"/> · <see cref="BalanceLoss"/>.
    /// </summary>
    public void Backward(MoeParameters<T> p, ReadOnlySpan<T> dy, MoeParameters<T> grads, Span<T> dx, T balanceScale)
    {
        ArgumentNullException.ThrowIfNull(p);
        ArgumentNullException.ThrowIfNull(grads);
        int t = _tokens, h = _c.HiddenSize, n = _c.NRoutedExperts;
        if (p.Shared is not null) MlpLayer.Backward(p.Shared, _shared!, dy, grads.Shared!, dx);
        var dweights = new T[_weights.Length];
        foreach (var (e, rows, slots, saved, ye) in _dispatch)
        {
            var dye = new T[rows.Length * h];
            for (var r = 0; r < rows.Length; r++)
            {
                var w = _weights[slots[r]];
                var dw = T.Zero;
                for (var d = 0; d < h; d++)
                {
                    var g = dy[rows[r] * h + d];
                    dye[r * h + d] = w * g;
                    dw += g * ye[r * h + d];
                }
                dweights[slots[r]] = dw;
            }
            var dxe = new T[rows.Length * h];
            MlpLayer.Backward(p.Experts[e], saved, dye, grads.Experts[e], dxe);
            for (var r = 0; r < rows.Length; r++)
                for (var d = 0; d < h; d++) dx[rows[r] * h + d] += dxe[r * h + d];
        }
        var dlogits = new T[_logits.Length];
        MoeGateOp.Backward<T>(_c, _logits, _ids, dweights, dlogits, t);
        if (Alpha != T.Zero && balanceScale != T.Zero) BalanceLossOp.Backward<T>(_c, _logits, _ids, t, Alpha, balanceScale, dlogits);
        LinearOp.Backward<T>(dlogits, _x, p.Router, dx, grads.Router, [], t, h, n);
    }
}
