using DeepSeek.Runtime.Model;

namespace DeepSeek.Runtime.Evaluation;

/// <summary>
/// How evenly a MoE model spreads tokens over its routed experts: for each MoE layer, the fraction of expert choices
/// that went to each expert over a set of sequences (teacher-forced, one forward per sequence).
/// </summary>
/// <param name="Fractions">Per MoE layer: the share of that layer's top-k choices each routed expert received (sums to 1).</param>
public sealed record ExpertLoad(IReadOnlyDictionary<int, double[]> Fractions)
{
    /// <summary>Worst max/mean load over the layers: 1 is perfectly balanced, <c>n_routed / k</c> is total collapse.</summary>
    public double Imbalance => Fractions.Count == 0 ? 0 : Fractions.Values.Max(f => f.Max() * f.Length);

    /// <summary>Measures the load of <paramref name="model"/> over <paramref name="sequences"/>.</summary>
    public static ExpertLoad Measure(Transformer model, IEnumerable<int[]> sequences, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(sequences);
        var c = model.Config;
        var counts = new Dictionary<int, long[]>();
        var logits = new float[c.VocabSize];
        foreach (var tokens in sequences)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (tokens.Length == 0) continue;
            var cache = model.CreateCache(1, tokens.Length);
            var trace = new ForwardTrace();
            model.Forward(tokens, new int[tokens.Length], cache, [tokens.Length - 1], logits, trace);
            foreach (var (layer, (ids, _)) in trace.Experts)
            {
                if (!counts.TryGetValue(layer, out var n)) counts[layer] = n = new long[c.NRoutedExperts];
                foreach (var id in ids) n[id]++;
            }
        }
        return new ExpertLoad(counts.OrderBy(kv => kv.Key).ToDictionary(kv => kv.Key, kv =>
        {
            var total = Math.Max(1, kv.Value.Sum());
            return kv.Value.Select(n => (double)n / total).ToArray();
        }));
    }
}
