namespace DeepSeek.Runtime.Generation;

/// <summary>How one sequence's MTP drafts fared so far.</summary>
/// <param name="Drafted">Draft tokens the main model verified.</param>
/// <param name="Accepted">Drafts it accepted (each saved one main-model step).</param>
public readonly record struct SpeculationStats(int Drafted, int Accepted)
{
    /// <summary>Accepted ÷ drafted; 0 when nothing was drafted.</summary>
    public double AcceptanceRate => Drafted == 0 ? 0 : (double)Accepted / Drafted;

    /// <summary>Adds two counts (e.g. over the sequences of a batch).</summary>
    public static SpeculationStats operator +(SpeculationStats a, SpeculationStats b) => new(a.Drafted + b.Drafted, a.Accepted + b.Accepted);
}
