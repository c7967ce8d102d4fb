using System.Numerics;
using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Training.Layers;
using DeepSeek.Runtime.Training.Ops;

namespace DeepSeek.Runtime.Distributed;

/// <summary>
/// The training MoE (<see cref="MoeLayer{T}"/>) with the routed experts sharded over an expert-parallel group: the
/// forward dispatches (token, expert) rows to the experts' ranks and combines the results; the backward sends
/// w·dy to the same ranks, which accumulate their experts' gradients over every rank's tokens and return dx.
/// </summary>
/// <remarks>
/// Each rank keeps full-size <see cref="MoeParameters{T}"/> but reads and writes only its own experts
/// (<see cref="ExpertPlacement.First"/>…); the router and shared-expert gradients cover this rank's tokens and must be
/// summed over the group (all-reduce, or the data-parallel reduction) like any replicated parameter.
/// Per rank this equals a single-process <see cref="MoeLayer{T}"/> over the same tokens; summed over ranks, the
/// gradients equal single-process training on all ranks' tokens (to rounding of the summation order).
/// </remarks>
public sealed class ExpertParallelMoeLayer<T> : IMoeBranch<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly ModelConfig _c;
    private readonly ICommunicator _comm;
    private readonly int _tokens;
    private T[] _x = [];
    private T[] _logits = [];
    private int[] _ids = [];
    private T[] _weights = [];
    private T[] _back = [];
    private ExpertDispatch? _dispatch;
    private int[][] _rowsPerExpert = [];
    private MlpLayer.Saved<T>?[] _saved = [];
    private MlpLayer.Saved<T>? _shared;

    /// <summary>Plans the layer for <paramref name="tokens"/> tokens of this rank (one sequence for the balance loss).</summary>
    /// <param name="config">Model config.</param>
    /// <param name="experts">The expert-parallel group.</param>
    /// <param name="tokens">Tokens of this rank per step.</param>
    /// <param name="alpha">Sequence-wise balance-loss weight (0 = off), as <see cref="MoeLayer{T}"/>.</param>
    /// <param name="maxRanksPerToken">Node-limited routing: most ranks one token's experts may span (0 = unlimited).</param>
    public ExpertParallelMoeLayer(ModelConfig config, ICommunicator experts, int tokens, T alpha = default, int maxRanksPerToken = 0)
    {
        _c = config ?? throw new ArgumentNullException(nameof(config));
        _comm = experts ?? throw new ArgumentNullException(nameof(experts));
        ArgumentOutOfRangeException.ThrowIfNegative(tokens);
        if (!(alpha >= T.Zero)) throw new ArgumentOutOfRangeException(nameof(alpha), alpha, "must be ≥ 0");
        _tokens = tokens;
        Alpha = alpha;
        Placement = new ExpertPlacement(config.NRoutedExperts, experts.Size);
        MaxRanksPerToken = maxRanksPerToken;
        Load = new int[config.NRoutedExperts];
    }

    /// <summary>Where the experts live.</summary>
    public ExpertPlacement Placement { get; }

    /// <summary>Node limit of the routing (0 = unlimited).</summary>
    public int MaxRanksPerToken { get; }

    /// <summary>α of the sequence-wise balance loss (0 = off).</summary>
    public T Alpha { get; }

    /// <summary>α Σ f_i P_i of this rank's sequence in the last forward.</summary>
    public T BalanceLoss { get; private set; } = T.Zero;

    /// <summary>Tokens of this rank routed to each expert by the last forward (sum over ranks for the global load).</summary>
    public int[] Load { get; }

    /// <summary>y [T, hidden] = MoE(x) for this rank's tokens. Collective over the expert group.</summary>
    public void Forward(MoeParameters<T> p, ReadOnlySpan<T> x, float[]? bias, Span<T> y)
    {
        ArgumentNullException.ThrowIfNull(p);
        int t = _tokens, h = _c.HiddenSize, n = _c.NRoutedExperts, k = _c.NumExpertsPerTok;
        _x = x.ToArray();
        _logits = new T[t * n];
        LinearOp.Forward<T>(x, p.Router, [], _logits, t, h, n);
        _ids = new int[t * k];
        new ExpertRouter(_c, bias, Placement, MaxRanksPerToken).Route(_logits.Select(float.CreateSaturating).ToArray(), t, _ids, new float[t * k]);
        _weights = new T[t * k];
        MoeGateOp.Forward<T>(_c, _logits, _ids, _weights, t);
        BalanceLoss = Alpha == T.Zero ? T.Zero : BalanceLossOp.Forward<T>(_c, _logits, _ids, t, Alpha);
        Array.Clear(Load);
        foreach (var e in _ids) Load[e]++;

        y.Clear();
        _shared = p.Shared is null ? null : MlpLayer.Forward(p.Shared, x, y, t);

        _dispatch = ExpertDispatch.Plan(_comm, Placement, _ids);
        var received = _dispatch.TokensToExperts<T>(x, h, k);
        _rowsPerExpert = _dispatch.RowsPerLocalExpert(Placement);
        _saved = new MlpLayer.Saved<T>?[_rowsPerExpert.Length];
        var results = new T[received.Length];
        var first = Placement.First(_comm.Rank);
        for (var e = 0; e < _rowsPerExpert.Length; e++)
        {
            var rows = _rowsPerExpert[e];
            if (rows.Length == 0) continue;
            var xe = Gather(received, rows, h);
            var ye = new T[xe.Length];
            _saved[e] = MlpLayer.Forward(p.Experts[first + e], xe, ye, rows.Length);
            Scatter(ye, rows, h, results);
        }
        _back = _dispatch.ExpertsToPairs<T>(results, h);

        // Combine in expert-id order, as the single-process layer does.
        foreach (var slot in SlotsByExpert())
        {
            var w = _weights[slot];
            var row = slot / k;
            for (var d = 0; d < h; d++) y[row * h + d] += w * _back[slot * h + d];
        }
    }

    /// <summary>Accumulates gradients (this rank's experts, and router/shared for this rank's tokens) and dx of ⟨dy, y⟩ + balanceScale·BalanceLoss. Collective.</summary>
    public void Backward(MoeParameters<T> p, ReadOnlySpan<T> dy, MoeParameters<T> grads, Span<T> dx, T balanceScale)
    {
        ArgumentNullException.ThrowIfNull(p);
        ArgumentNullException.ThrowIfNull(grads);
        var dispatch = _dispatch ?? throw new InvalidOperationException("Backward needs a Forward first.");
        int t = _tokens, h = _c.HiddenSize, n = _c.NRoutedExperts, k = _c.NumExpertsPerTok;
        if (p.Shared is not null) MlpLayer.Backward(p.Shared, _shared!, dy, grads.Shared!, dx);

        // Per pair: dL/dw = ⟨dy_t, expert(x_t)⟩ and the expert's output gradient w·dy_t.
        var dweights = new T[_weights.Length];
        var dpairs = new T[_weights.Length * h];
        for (var slot = 0; slot < _weights.Length; slot++)
        {
            var w = _weights[slot];
            var row = slot / k;
            var dw = T.Zero;
            for (var d = 0; d < h; d++)
            {
                var g = dy[row * h + d];
                dpairs[slot * h + d] = w * g;
                dw += g * _back[slot * h + d];
            }
            dweights[slot] = dw;
        }
        var received = dispatch.PairsToExperts<T>(dpairs, h);
        var dxReceived = new T[received.Length];
        var first = Placement.First(_comm.Rank);
        for (var e = 0; e < _rowsPerExpert.Length; e++)
        {
            var rows = _rowsPerExpert[e];
            if (rows.Length == 0) continue;
            var dxe = new T[rows.Length * h];
            MlpLayer.Backward(p.Experts[first + e], _saved[e]!, Gather(received, rows, h), grads.Experts[first + e], dxe);
            Scatter(dxe, rows, h, dxReceived);
        }
        var dxPairs = dispatch.ExpertsToPairs<T>(dxReceived, h);
        foreach (var slot in SlotsByExpert())
        {
            var row = slot / k;
            for (var d = 0; d < h; d++) dx[row * h + d] += dxPairs[slot * h + d];
        }

        var dlogits = new T[_logits.Length];
        MoeGateOp.Backward<T>(_c, _logits, _ids, dweights, dlogits, t);
        if (Alpha != T.Zero && balanceScale != T.Zero) BalanceLossOp.Backward<T>(_c, _logits, _ids, t, Alpha, balanceScale, dlogits);
        LinearOp.Backward<T>(dlogits, _x, p.Router, dx, grads.Router, [], t, h, n);
    }

    /// <summary>Pair slots (t·k + j) ordered by expert id, then slot: the order the single-process layer accumulates in.</summary>
    private IEnumerable<int> SlotsByExpert() =>
        Enumerable.Range(0, _ids.Length).OrderBy(i => _ids[i]).ThenBy(i => i);

    private static T[] Gather(T[] source, int[] rows, int h)
    {
        var result = new T[rows.Length * h];
        for (var r = 0; r < rows.Length; r++) source.AsSpan(rows[r] * h, h).CopyTo(result.AsSpan(r * h, h));
        return result;
    }

    private static void Scatter(T[] source, int[] rows, int h, T[] destination)
    {
        for (var r = 0; r < rows.Length; r++) source.AsSpan(r * h, h).CopyTo(destination.AsSpan(rows[r] * h, h));
    }
}
