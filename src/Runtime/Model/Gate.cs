using DeepSeek.Runtime.Checkpoints;

namespace DeepSeek.Runtime.Model;

/// <summary>
/// DeepSeekMoE expert selection from router logits (MODEL.md, "Mixture of experts"): softmax or sigmoid scores;
/// <c>greedy</c> top-k, <c>group_limited_greedy</c> (group score = max), or <c>noaux_tc</c> (bias added for the
/// choice only, group score = sum of the top-2 biased scores); experts outside the kept groups are masked out of the
/// choice entirely; weights are the unbiased scores of the chosen experts, optionally normalised, times
/// <c>routed_scaling_factor</c>. Ties go to the lower index. Gradients never flow through the choice.
/// </summary>
public sealed class Gate
{
    /// <summary>Masks (sets to −∞) the choice scores [n_routed] of experts a token may not use.</summary>
    internal delegate void ChoiceRestriction(Span<float> choice);

    private readonly ModelConfig _config;
    private readonly float[]? _bias;

    /// <summary>Creates the router for <paramref name="config"/>; <paramref name="bias"/> is <c>e_score_correction_bias</c> (noaux_tc only).</summary>
    public Gate(ModelConfig config, float[]? bias)
    {
        _config = config ?? throw new ArgumentNullException(nameof(config));
        if (config.TopKMethod == TopKMethod.NoAuxTc && (bias is null || bias.Length != config.NRoutedExperts))
            throw new ArgumentException($"noaux_tc routing needs an e_score_correction_bias of {config.NRoutedExperts} values", nameof(bias));
        _bias = bias;
    }

    /// <summary>Experts each token uses.</summary>
    public int TopK => _config.NumExpertsPerTok;

    /// <summary>
    /// Routes <paramref name="tokens"/> rows of <paramref name="logits"/> [tokens, n_routed]: writes the chosen
    /// expert ids [tokens, k] in choice order and their weights [tokens, k].
    /// </summary>
    public void Route(ReadOnlySpan<float> logits, int tokens, Span<int> ids, Span<float> weights) => Route(logits, tokens, ids, weights, null);

    /// <summary>
    /// As <see cref="Route(ReadOnlySpan{float}, int, Span{int}, Span{float})"/>, with <paramref name="restrict"/> applied to
    /// each token's choice scores after the group limit and before top-k (e.g. expert parallelism's node limit): it sets the
    /// experts a token may not use to −∞.
    /// </summary>
    internal void Route(ReadOnlySpan<float> logits, int tokens, Span<int> ids, Span<float> weights, ChoiceRestriction? restrict)
    {
        var n = _config.NRoutedExperts;
        var k = _config.NumExpertsPerTok;
        if (logits.Length < tokens * n || ids.Length < tokens * k || weights.Length < tokens * k)
            throw new ArgumentException($"route buffers too small for {tokens} tokens × {n} experts, top-{k}");
        Span<float> scores = n <= 1024 ? stackalloc float[n] : new float[n];
        Span<float> choice = n <= 1024 ? stackalloc float[n] : new float[n];
        for (var t = 0; t < tokens; t++)
        {
            Score(logits.Slice(t * n, n), scores);
            scores.CopyTo(choice);
            if (_config.TopKMethod == TopKMethod.NoAuxTc)
                for (var e = 0; e < n; e++) choice[e] += _bias![e];
            if (_config.TopKMethod != TopKMethod.Greedy && _config.NGroup > 1) MaskGroups(choice);
            restrict?.Invoke(choice);

            var tIds = ids.Slice(t * k, k);
            var tWeights = weights.Slice(t * k, k);
            TopKIndices(choice, tIds);
            double sum = 0;
            for (var i = 0; i < k; i++) sum += tWeights[i] = scores[tIds[i]];
            var norm = _config.NormTopKProb && k > 1 ? 1.0 / (sum + 1e-20) : 1.0;
            for (var i = 0; i < k; i++) tWeights[i] = (float)(tWeights[i] * norm * _config.RoutedScalingFactor);
        }
    }

    private void Score(ReadOnlySpan<float> logits, Span<float> scores)
    {
        if (_config.ScoringFunc == ScoringFunction.Sigmoid)
        {
            for (var e = 0; e < logits.Length; e++) scores[e] = 1f / (1f + MathF.Exp(-logits[e]));
            return;
        }
        System.Numerics.Tensors.TensorPrimitives.SoftMax(logits, scores);
    }

    /// <summary>Keeps the <c>topk_group</c> best groups; every other expert's choice score becomes −∞.</summary>
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
                TopKIndices(members, top2);
                groupScore[g] = members[top2[0]] + members[top2[1]];
            }
            else
            {
                groupScore[g] = System.Numerics.Tensors.TensorPrimitives.Max(members);
            }
        }
        Span<int> kept = stackalloc int[_config.TopKGroup];
        TopKIndices(groupScore, kept);
        for (var g = 0; g < groups; g++)
            if (kept.IndexOf(g) < 0) choice.Slice(g * size, size).Fill(float.NegativeInfinity);
    }

    /// <summary>Indices of the largest values, best first; ties go to the lower index. k is small (≤ 16), so selection is linear per pick.</summary>
    internal static void TopKIndices(ReadOnlySpan<float> values, Span<int> result)
    {
        for (var i = 0; i < result.Length; i++)
        {
            var best = -1;
            for (var e = 0; e < values.Length; e++)
            {
                if (result[..i].IndexOf(e) >= 0) continue;
                if (best < 0 || values[e] > values[best]) best = e;
            }
            result[i] = best;
        }
    }
}
