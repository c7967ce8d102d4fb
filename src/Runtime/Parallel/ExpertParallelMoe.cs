using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Compute;
using DeepSeek.Runtime.Model;

namespace DeepSeek.Runtime.Distributed;

/// <summary>
/// Inference DeepSeekMoE with the routed experts sharded over an expert-parallel group (<see cref="ExpertPlacement"/>):
/// each rank routes its own tokens, sends each (token, expert) row to the rank that holds the expert
/// (all-to-all with variable counts), runs its own experts on what it received, and gets the results back for the
/// combine. The router and the shared experts are replicated; only this rank's experts are bound, so a model too large
/// for one process fits on several. Gives what the single-process <see cref="Moe"/> gives for the same tokens (to fp32
/// rounding; bit for bit on the CPU backend) when routing is unlimited.
/// </summary>
public sealed class ExpertParallelMoe
{
    private readonly IComputeBackend _backend;
    private readonly ICommunicator _comm;
    private readonly ComputeWeight _gateWeight;
    private readonly Mlp[] _localExperts;
    private readonly Mlp? _shared;
    private readonly int _topK;

    /// <summary>Binds the router, the shared experts and this rank's routed experts.</summary>
    /// <param name="backend">Compute backend of this rank.</param>
    /// <param name="config">Model config.</param>
    /// <param name="weights">The layer's weights (views; only this rank's experts are read).</param>
    /// <param name="experts">The expert-parallel group (the same group for every MoE layer).</param>
    /// <param name="maxRanksPerToken">Node-limited routing: most ranks one token's experts may span (0 = unlimited).</param>
    public ExpertParallelMoe(IComputeBackend backend, ModelConfig config, MoeWeights weights, ICommunicator experts, int maxRanksPerToken = 0)
    {
        ArgumentNullException.ThrowIfNull(backend);
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(weights);
        _backend = backend;
        _topK = config.NumExpertsPerTok;
        _comm = experts ?? throw new ArgumentNullException(nameof(experts));
        Placement = new ExpertPlacement(config.NRoutedExperts, experts.Size);
        Router = new ExpertRouter(config, weights.GateBias?.ToFloatArray(), Placement, maxRanksPerToken);
        _gateWeight = backend.Bind(weights.Gate);
        var first = Placement.First(experts.Rank);
        _localExperts = Enumerable.Range(first, Placement.PerRank).Select(e => new Mlp(backend, weights.Experts[e])).ToArray();
        _shared = weights.SharedExperts is { } s ? new Mlp(backend, s) : null;
    }

    /// <summary>Where the experts live.</summary>
    public ExpertPlacement Placement { get; }

    /// <summary>The router (node-limited when asked).</summary>
    public ExpertRouter Router { get; }

    /// <summary>
    /// x [T, hidden] (this rank's tokens; T may differ between ranks, and may be 0) → [T, hidden]. Collective: every
    /// rank of the group calls it for the same layer at the same step.
    /// </summary>
    public ComputeTensor Forward(ComputeTensor x)
    {
        ArgumentNullException.ThrowIfNull(x);
        int tokens = x.Rows, h = x.Cols, n = Placement.Experts, k = _topK;
        var logits = new float[tokens * n];
        if (tokens > 0) _backend.RouterLogits(x, _gateWeight, logits);
        var ids = new int[tokens * k];
        var weights = new float[tokens * k];
        Router.Route(logits, tokens, ids, weights);

        var dispatch = ExpertDispatch.Plan(_comm, Placement, ids);
        var xs = new float[tokens * h];
        if (tokens > 0) _backend.Download(x, xs);
        var received = dispatch.TokensToExperts<float>(xs, h, k);
        var results = new float[received.Length];
        var perExpert = dispatch.RowsPerLocalExpert(Placement);
        for (var e = 0; e < perExpert.Length; e++)
        {
            var rows = perExpert[e];
            if (rows.Length == 0) continue;
            var xe = _backend.Allocate(rows.Length, h);
            var xeHost = new float[rows.Length * h];
            for (var r = 0; r < rows.Length; r++) received.AsSpan(rows[r] * h, h).CopyTo(xeHost.AsSpan(r * h, h));
            _backend.Upload(xeHost, xe);
            var ye = _localExperts[e].Forward(xe);
            _backend.Download(ye, xeHost);
            for (var r = 0; r < rows.Length; r++) xeHost.AsSpan(r * h, h).CopyTo(results.AsSpan(rows[r] * h, h));
        }
        var back = dispatch.ExpertsToPairs<float>(results, h);

        // Combine expert by expert in id order, as the single-process layer adds them.
        var y = _shared?.Forward(x) ?? _backend.Allocate(tokens, h);
        var slotsByExpert = new List<int>?[n];
        for (var i = 0; i < ids.Length; i++) (slotsByExpert[ids[i]] ??= []).Add(i);
        for (var e = 0; e < n; e++)
        {
            if (slotsByExpert[e] is not { Count: > 0 } slots) continue;
            var ye = _backend.Allocate(slots.Count, h);
            var host = new float[slots.Count * h];
            for (var r = 0; r < slots.Count; r++) back.AsSpan(slots[r] * h, h).CopyTo(host.AsSpan(r * h, h));
            _backend.Upload(host, ye);
            _backend.ScatterAddRows(ye, slots.Select(i => i / k).ToArray(), slots.Select(i => weights[i]).ToArray(), y);
        }
        return y;
    }
}
