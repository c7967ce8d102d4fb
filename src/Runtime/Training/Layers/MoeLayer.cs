using System.Numerics;
using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Model;
using DeepSeek.Runtime.Tensors;
using DeepSeek.Runtime.Training.Lora;
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
public sealed class MoeLayer<T> : IMoeBranch<T> where T : IFloatingPointIeee754<T>
{
    private readonly ModelConfig _c;
    private readonly int _tokens;
    private readonly ArenaArray<T> _acts, _scratch;
    private readonly ArenaSlice _x, _logits, _weights, _xe, _ye;                   // kept
    private readonly ArenaSlice _dweights, _dye, _dxe, _dlogits, _gateScratch;     // scratch
    private readonly MlpBuffers<T> _experts;
    private readonly MlpBuffers<T>? _shared;
    // Routing, planned once: the choice [T, k], the slots ordered by expert, each expert's first slot in that order.
    private readonly int[] _ids, _order, _first;
    private readonly float[] _logitsF, _routeWeights;
    private readonly List<(float[]? Bias, Gate Gate)> _gates = [];

    /// <summary>Plans a layer for <paramref name="tokens"/> tokens, without the balance loss.</summary>
    public MoeLayer(ModelConfig config, int tokens) : this(config, tokens, T.Zero)
    {
    }

    /// <summary>Plans a layer for <paramref name="tokens"/> tokens (one sequence) with balance-loss weight <paramref name="alpha"/> (V3: 0.0001; 0 = off).</summary>
    public MoeLayer(ModelConfig config, int tokens, T alpha) : this(config, tokens, alpha, new ArenaArray<T>(), new ArenaArray<T>())
    {
    }

    /// <summary>Plans the kept activations in <paramref name="acts"/> and the scratch in <paramref name="scratch"/>.</summary>
    internal MoeLayer(ModelConfig config, int tokens, T alpha, ArenaArray<T> acts, ArenaArray<T> scratch)
    {
        _c = config ?? throw new ArgumentNullException(nameof(config));
        _tokens = tokens;
        if (!(alpha >= T.Zero)) throw new ArgumentOutOfRangeException(nameof(alpha), alpha, "must be ≥ 0");
        Alpha = alpha;
        int h = config.HiddenSize, n = config.NRoutedExperts, k = config.NumExpertsPerTok, slots = tokens * k;
        Load = new int[n];
        (_acts, _scratch) = (acts, scratch);
        _x = acts.Add("moe.x", tokens * h);                             // (T, hidden)
        _logits = acts.Add("moe.logits", tokens * n);                   // (T, n_routed)
        _weights = acts.Add("moe.weights", slots);                      // (T, k)
        _xe = acts.Add("moe.xe", (long)slots * h);                      // (T·k, hidden) inputs grouped by expert
        _ye = acts.Add("moe.ye", (long)slots * h);                      // (T·k, hidden) expert outputs, same order
        _experts = new MlpBuffers<T>(acts, scratch, "moe.experts", slots, config.MoeIntermediateSize, scratchRows: tokens);
        if (config.NSharedExperts > 0) _shared = new MlpBuffers<T>(acts, scratch, "moe.shared", tokens, config.NSharedExperts * config.MoeIntermediateSize);
        _dweights = scratch.Add("moe.d_weights", slots);                // (T, k)
        _dye = scratch.Add("moe.d_ye", tokens * h);                     // (rows of one expert ≤ T, hidden)
        _dxe = scratch.Add("moe.d_xe", tokens * h);
        _dlogits = scratch.Add("moe.d_logits", tokens * n);             // (T, n_routed)
        _gateScratch = scratch.Add("moe.gate_scratch", 3 * n);
        (_ids, _order, _first) = (new int[slots], new int[slots], new int[n + 1]);
        (_logitsF, _routeWeights) = (new float[tokens * n], new float[slots]);
    }

    /// <summary>LoRA branches of the expert projections (null: none).</summary>
    internal LoraBranches<T>? Lora { get; set; }

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
        var a = _acts;
        Span<T> xs = a[_x], logits = a[_logits], weights = a[_weights], xe = a[_xe], ye = a[_ye];
        x[..(t * h)].CopyTo(xs);
        LinearOp.Forward<T>(x, p.Router, [], logits, t, h, n);
        // The choice: exactly the inference router, on the fp32 logits.
        for (var i = 0; i < logits.Length; i++) _logitsF[i] = float.CreateSaturating(logits[i]);
        GateFor(bias).Route(_logitsF, t, _ids, _routeWeights);
        var scratch = _scratch[_gateScratch];
        MoeGateOp.Forward<T>(_c, logits, _ids, weights, t, scratch);
        BalanceLoss = Alpha == T.Zero ? T.Zero : BalanceLossOp.Forward<T>(_c, logits, _ids, t, Alpha, scratch);

        y[..(t * h)].Clear();
        _shared?.Forward(p.Shared!, x, y, 0, t, Lora);
        // Counting sort of the slots by expert, ascending slot order within each expert.
        Array.Clear(Load);
        foreach (var e in _ids) Load[e]++;
        _first[0] = 0;
        for (var e = 0; e < n; e++) _first[e + 1] = _first[e] + Load[e];
        Span<int> next = stackalloc int[n];
        _first.AsSpan(0, n).CopyTo(next);
        for (var slot = 0; slot < _ids.Length; slot++) _order[next[_ids[slot]]++] = slot;

        for (var e = 0; e < n; e++)
        {
            int first = _first[e], rows = Load[e];
            if (rows == 0) continue;
            var xr = xe.Slice(first * h, rows * h);
            var yr = ye.Slice(first * h, rows * h);
            for (var r = 0; r < rows; r++) x.Slice(_order[first + r] / k * h, h).CopyTo(xr.Slice(r * h, h));
            _experts.Forward(p.Experts[e], xr, yr, first, rows, Lora);
            for (var r = 0; r < rows; r++)
            {
                var slot = _order[first + r];
                var w = weights[slot];
                var yt = y.Slice(slot / k * h, h);
                var ys = yr.Slice(r * h, h);
                for (var d = 0; d < h; d++) yt[d] += w * ys[d];
            }
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
        int t = _tokens, h = _c.HiddenSize, n = _c.NRoutedExperts, k = _c.NumExpertsPerTok;
        var a = _acts;
        var s = _scratch;
        Span<T> xs = a[_x], logits = a[_logits], weights = a[_weights], xe = a[_xe], ye = a[_ye];
        Span<T> dweights = s[_dweights], dlogits = s[_dlogits];
        if (p.Shared is not null) _shared!.Backward(p.Shared, xs, dy, grads.Shared!, dx, 0, t, Lora);
        dweights.Clear();
        for (var e = 0; e < n; e++)
        {
            int first = _first[e], rows = Load[e];
            if (rows == 0) continue;
            var dye = s.Get(_dye, rows * h);
            var yr = ye.Slice(first * h, rows * h);
            for (var r = 0; r < rows; r++)
            {
                var slot = _order[first + r];
                var w = weights[slot];
                var dw = T.Zero;
                var g = dy.Slice(slot / k * h, h);
                for (var d = 0; d < h; d++)
                {
                    dye[r * h + d] = w * g[d];
                    dw += g[d] * yr[r * h + d];
                }
                dweights[slot] = dw;
            }
            var dxe = s.Get(_dxe, rows * h);
            dxe.Clear();
            _experts.Backward(p.Experts[e], xe.Slice(first * h, rows * h), dye, grads.Experts[e], dxe, first, rows, Lora);
            for (var r = 0; r < rows; r++)
            {
                var dt = dx.Slice(_order[first + r] / k * h, h);
                var de = dxe.Slice(r * h, h);
                for (var d = 0; d < h; d++) dt[d] += de[d];
            }
        }
        dlogits.Clear();
        var scratch = s[_gateScratch];
        MoeGateOp.Backward<T>(_c, logits, _ids, dweights, dlogits, t, scratch);
        if (Alpha != T.Zero && balanceScale != T.Zero) BalanceLossOp.Backward<T>(_c, logits, _ids, t, Alpha, balanceScale, dlogits, scratch);
        LinearOp.Backward<T>(dlogits, xs, p.Router, dx, grads.Router, [], t, h, n);
    }

    /// <summary>The router for <paramref name="bias"/> (one per bias array: with recomputation one layer serves several).</summary>
    private Gate GateFor(float[]? bias)
    {
        foreach (var (b, g) in _gates) if (ReferenceEquals(b, bias)) return g;
        var gate = new Gate(_c, bias);
        _gates.Add((bias, gate));
        return gate;
    }
}
