using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Compute;

namespace DeepSeek.Runtime.Model;

/// <summary>
/// DeepSeekMoE layer: route each token to top-k routed experts (<see cref="Gate"/>), run each expert on the tokens
/// it received (dispatch), add the weighted outputs back (combine), plus the shared experts with weight 1.
/// </summary>
public sealed class Moe
{
    private readonly IComputeBackend _backend;
    private readonly ComputeWeight _gateWeight;
    private readonly Mlp[] _experts;
    private readonly Mlp? _shared;

    /// <summary>Binds the router, every routed expert and the shared experts.</summary>
    public Moe(IComputeBackend backend, ModelConfig config, MoeWeights weights)
    {
        _backend = backend;
        _gateWeight = backend.Bind(weights.Gate);
        // The router bias only steers the choice, which is made on the host.
        Gate = new Gate(config, weights.GateBias?.ToFloatArray());
        _experts = weights.Experts.Select(e => new Mlp(backend, e)).ToArray();
        _shared = weights.SharedExperts is { } s ? new Mlp(backend, s) : null;
    }

    /// <summary>The router.</summary>
    public Gate Gate { get; }

    /// <summary>x [T, hidden] → [T, hidden]; <paramref name="trace"/> receives the choices when given.</summary>
    public ComputeTensor Forward(ComputeTensor x, int layer, ForwardTrace? trace)
    {
        int tokens = x.Rows, n = _experts.Length, k = Gate.TopK;
        var logits = new float[tokens * n];
        _backend.RouterLogits(x, _gateWeight, logits);
        var ids = new int[tokens * k];
        var weights = new float[tokens * k];
        Gate.Route(logits, tokens, ids, weights);
        trace?.RecordExperts(layer, tokens, k, ids, weights);

        var y = _shared?.Forward(x) ?? _backend.Allocate(tokens, x.Cols);
        // Dispatch: tokens grouped by expert, each expert runs once over its rows.
        var rows = new List<int>[n];
        var scales = new List<float>[n];
        for (var i = 0; i < ids.Length; i++)
        {
            var e = ids[i];
            (rows[e] ??= []).Add(i / k);
            (scales[e] ??= []).Add(weights[i]);
        }
        for (var e = 0; e < n; e++)
        {
            if (rows[e] is not { Count: > 0 } list) continue;
            var r = list.ToArray();
            var xe = _backend.Allocate(r.Length, x.Cols);
            _backend.GatherRows(x, r, xe);
            var ye = _experts[e].Forward(xe);
            _backend.ScatterAddRows(ye, r, scales[e].ToArray(), y);
        }
        return y;
    }
}
