using System.Numerics.Tensors;
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
    private readonly float[]? _bias;
    private readonly Gate _gate;

    /// <summary>Creates the router; <paramref name="maxRanksPerToken"/> 0 (or ≥ the ranks) means unlimited.</summary>
    public ExpertRouter(ModelConfig config, float[]? bias, ExpertPlacement placement, int maxRanksPerToken = 0)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(placement);
        ArgumentOutOfRangeException.ThrowIfNegative(maxRanksPerToken);
        _config = config;
        _bias = bias;
        _gate = new Gate(config, bias);
        Placement = placement;
        MaxRanksPerToken = maxRanksPerToken == 0 || maxRanksPerToken >= placement.Ranks ? 0 : maxRanksPerToken;
        if (MaxRanksPerToken > 0 && MaxRanksPerToken * placement.PerRank < config.NumExpertsPerTok)
            throw new ArgumentException($"Node-limited routing to {MaxRanksPerToken} ranks of {placement.PerRank} experts each cannot give {config.NumExpertsPerTok} experts per token.");
    }

    /// <summary>Where the experts live.</summary>
    public ExpertPlacement Placement { get; }

    /// <summary>Most ranks a token's experts may span (0 = unlimited).</summary>
    public int MaxRanksPerToken { get; }

    /// <summary>Chosen expert ids [tokens, k] and weights [tokens, k] from router logits [tokens, n] (as <see cref="Gate.Route"/>).</summary>
    public void Route(ReadOnlySpan<float> logits, int tokens, Span<int> ids, Span<float> weights)
    {
        if (MaxRanksPerToken == 0)
        {
            _gate.Route(logits, tokens, ids, weights);
            return;
        }
        int n = _config.NRoutedExperts, k = _config.NumExpertsPerTok;
        if (logits.Length < tokens * n || ids.Length < tokens * k || weights.Length < tokens * k)
            throw new ArgumentException($"route buffers too small for {tokens} tokens × {n} experts, top-{k}");
        var scores = new float[n];
        var choice = new float[n];
        for (var t = 0; t < tokens; t++)
        {
            var row = logits.Slice(t * n, n);
            if (_config.ScoringFunc == ScoringFunction.Sigmoid)
                for (var e = 0; e < n; e++) scores[e] = 1f / (1f + MathF.Exp(-row[e]));
            else
                TensorPrimitives.SoftMax(row, scores);
            scores.CopyTo(choice, 0);
            if (_config.TopKMethod == TopKMethod.NoAuxTc)
                for (var e = 0; e < n; e++) choice[e] += _bias![e];
            if (_config.TopKMethod != TopKMethod.Greedy && _config.NGroup > 1) MaskGroups(choice);
            MaskRanks(choice);

            var tIds = ids.Slice(t * k, k);
            var tWeights = weights.Slice(t * k, k);
            Gate.TopKIndices(choice, tIds);
            double sum = 0;
            for (var i = 0; i < k; i++) sum += tWeights[i] = scores[tIds[i]];
            var norm = _config.NormTopKProb && k > 1 ? 1.0 / (sum + 1e-20) : 1.0;
            for (var i = 0; i < k; i++) tWeights[i] = (float)(tWeights[i] * norm * _config.RoutedScalingFactor);
        }
    }

    /// <summary>The model's own group limit (as <see cref="Gate"/>): keep <c>topk_group</c> groups.</summary>
    private void MaskGroups(Span<float> choice)
    {
        int groups = _config.NGroup, size = choice.Length / groups;
        Span<float> groupScore = stackalloc float[groups];
        Span<int> top2 = stackalloc int[2];
        for (var g = 0; g < groups; g++)
        {
            var members = choice.Slice(g * size, size);
            if (_config.TopKMethod == TopKMethod.NoAuxTc)
            {
                Gate.TopKIndices(members, top2);
                groupScore[g] = members[top2[0]] + members[top2[1]];
            }
            else
            {
                groupScore[g] = TensorPrimitives.Max(members);
            }
        }
        Span<int> kept = stackalloc int[_config.TopKGroup];
        Gate.TopKIndices(groupScore, kept);
        for (var g = 0; g < groups; g++)
            if (kept.IndexOf(g) < 0) choice.Slice(g * size, size).Fill(float.NegativeInfinity);
    }

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
