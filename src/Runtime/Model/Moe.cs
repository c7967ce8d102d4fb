using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Compute;

namespace DeepSeek.Runtime.Model;

/// <summary>
/// DeepSeekMoE layer: route each token to top-k routed experts (<see cref="Gate"/>), run each expert on the tokens
/// it received (dispatch), add the weighted outputs back (combine), plus the shared experts with weight 1.
/// </summary>
public sealed class Moe : IMoeLayer
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

    /// <summary>
    /// x [T, hidden] → [T, hidden]; <paramref name="trace"/> receives the choices when given. Activations and the routing
    /// buffers come from <paramref name="scratch"/> when given (the result is valid until the layer's next call).
    /// </summary>
    public ComputeTensor Forward(ComputeTensor x, int layer, ForwardTrace? trace, ActivationScratch? scratch = null)
    {
        scratch ??= new ActivationScratch(_backend);
        int tokens = x.Rows, n = _experts.Length, k = Gate.TopK;
        var logits = scratch.Array<float>(this, 0, tokens * n);      // (T, n_routed)
        _backend.RouterLogits(x, _gateWeight, logits);
        var ids = scratch.Array<int>(this, 1, tokens * k);            // (T, k)
        var weights = scratch.Array<float>(this, 2, tokens * k);      // (T, k)
        Gate.Route(logits, tokens, ids, weights);
        trace?.RecordExperts(layer, tokens, k, ids, weights);

        ComputeTensor y;
        if (_shared is not null) y = _shared.Forward(x, scratch);
        else
        {
            y = scratch.Tensor(this, 3, tokens, x.Cols);
            _backend.Copy(scratch.Tensor(this, 4, tokens, x.Cols), y);  // slot 4 is never written: zeros
        }

        // Dispatch, tokens grouped by expert (a stable counting sort: each expert's rows in token order, as a
        // per-expert list would hold them); each expert runs once over its rows, experts in ascending order.
        var start = scratch.Array<int>(this, 5, n + 1);
        var rows = scratch.Array<int>(this, 6, tokens * k);
        var scales = scratch.Array<float>(this, 7, tokens * k);
        start.AsSpan().Clear();
        foreach (var e in ids) start[e + 1]++;
        for (var e = 0; e < n; e++) start[e + 1] += start[e];
        var fill = scratch.Array<int>(this, 8, n);
        start.AsSpan(0, n).CopyTo(fill);
        for (var i = 0; i < ids.Length; i++)
        {
            var at = fill[ids[i]]++;
            rows[at] = i / k;
            scales[at] = weights[i];
        }
        for (var e = 0; e < n; e++)
        {
            var count = start[e + 1] - start[e];
            if (count == 0) continue;
            var r = rows.AsSpan(start[e], count);
            var xe = scratch.Tensor(this, 9, count, x.Cols);          // (rows of expert e, hidden)
            _backend.GatherRows(x, r, xe);
            var ye = _experts[e].Forward(xe, scratch);
            _backend.ScatterAddRows(ye, r, scales.AsSpan(start[e], count), y);
        }
        return y;
    }
}
