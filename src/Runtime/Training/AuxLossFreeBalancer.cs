namespace DeepSeek.Runtime.Training;

/// <summary>
/// DeepSeek-V3's auxiliary-loss-free load balancing (§2.1.2): after each step, every expert's
/// <c>e_score_correction_bias</c> moves by γ toward balance — down for experts that received more than the mean
/// load, up for those that received less (γ = 0.001 in V3; 0 disables). The bias only steers the choice.
/// </summary>
public static class AuxLossFreeBalancer
{
    /// <summary>Updates <paramref name="bias"/> in place from the token counts <paramref name="load"/> of one step.</summary>
    public static void Update(Span<float> bias, ReadOnlySpan<int> load, float gamma)
    {
        if (bias.Length != load.Length) throw new ArgumentException($"{bias.Length} biases for {load.Length} experts");
        ArgumentOutOfRangeException.ThrowIfNegative(gamma);
        if (gamma == 0 || load.Length == 0) return;
        double mean = 0;
        foreach (var l in load) mean += l;
        mean /= load.Length;
        for (var e = 0; e < bias.Length; e++)
            bias[e] += load[e] > mean ? -gamma : load[e] < mean ? gamma : 0;
    }

    /// <summary>Max load over mean load: 1 is perfect balance (the imbalance metric the tests and logs use).</summary>
    public static double Imbalance(ReadOnlySpan<int> load)
    {
        double sum = 0, max = 0;
        foreach (var l in load) { sum += l; max = Math.Max(max, l); }
        return sum == 0 ? 1 : max / (sum / load.Length);
    }
}
