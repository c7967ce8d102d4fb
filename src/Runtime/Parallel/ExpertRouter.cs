using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Model;

namespace DeepSeek.Runtime.Distributed;

/// <summary>
/// The router of an expert-parallel MoE: exactly <see cref="Gate"/> when unlimited, and with node-limited routing
/// (V3 §2.1.2 / §3.2.2: each token reaches at most M nodes) the same choice restricted to the M ranks with the best
/// score, a rank's score being the sum of the K/M highest choice scores (biased for <c>noaux_tc</c>) among its
/// experts — V3's rule with K = 8, M = 4 sums the top 2. Weights are the unbiased scores of the chosen experts,
/// normalised and scaled as the gate does.
/// </summary>
public sealed class ExpertRouter
{
    private readonly ModelConfig _config;
    private readonly Gate _gate;
    private readonly Gate.ChoiceRestriction? _maskRanks;

    /// <summary>Creates the router; <paramref name="maxRanksPerToken"/> 0 (or ≥ the ranks) means unlimited.</summary>
    public ExpertRouter(ModelConfig config, float[]? bias, ExpertPlacement placement, int maxRanksPerToken = 0)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(placement);
        ArgumentOutOfRangeException.ThrowIfNegative(maxRanksPerToken);
        _config = config;
        _gate = new Gate(config, bias);
        Placement = placement;
        MaxRanksPerToken = maxRanksPerToken == 0 || maxRanksPerToken >= placement.Ranks ? 0 : maxRanksPerToken;
        if (MaxRanksPerToken > 0 && MaxRanksPerToken * placement.PerRank < config.NumExpertsPerTok)
            throw new ArgumentException($"Node-limited routing to {MaxRanksPerToken} ranks of {placement.PerRank} experts each cannot give {config.NumExpertsPerTok} experts per token.");
        _maskRanks = MaxRanksPerToken > 0 ? MaskRanks : null;
    }

    /// <summary>Where the experts live.</summary>
    public ExpertPlacement Placement { get; }

    /// <summary>Most ranks a token's experts may span (0 = unlimited).</summary>
    public int MaxRanksPerToken { get; }

    /// <summary>Chosen expert ids [tokens, k] and weights [tokens, k] from router logits [tokens, n] (as <see cref="Gate.Route(ReadOnlySpan{float}, int, Span{int}, Span{float})"/>).</summary>
    public void Route(ReadOnlySpan<float> logits, int tokens, Span<int> ids, Span<float> weights) =>
        _gate.Route(logits, tokens, ids, weights, _maskRanks);

    /// <summary>Keeps the <see cref="MaxRanksPerToken"/> ranks whose top K/M choice scores sum highest.</summary>
    private void MaskRanks(Span<float> choice)
    {
        int ranks = Placement.Ranks, per = Placement.PerRank;
        var top = Math.Clamp(_config.NumExpertsPerTok / MaxRanksPerToken, 1, per);
        Span<float> rankScore = stackalloc float[ranks];
        Span<int> best = stackalloc int[top];
        for (var r = 0; r < ranks; r++)
        {
            var members = choice.Slice(r * per, per);
            Gate.TopKIndices(members, best);
            var s = 0f;
            foreach (var i in best) s += members[i];
            rankScore[r] = s;
        }
        Span<int> kept = stackalloc int[MaxRanksPerToken];
        Gate.TopKIndices(rankScore, kept);
        for (var r = 0; r < ranks; r++)
            if (kept.IndexOf(r) < 0) choice.Slice(r * per, per).Fill(float.NegativeInfinity);
    }
}
