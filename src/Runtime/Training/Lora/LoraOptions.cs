namespace DeepSeek.Runtime.Training.Lora;

/// <summary>LoRA settings (Hu et al. 2021): W = W₀ + (α/r)·B·A on the targeted projections, W₀ frozen.</summary>
public sealed record LoraOptions
{
    /// <summary>Rank r of the adapters.</summary>
    public int Rank { get; init; } = 8;

    /// <summary>α: the update is scaled by α/r.</summary>
    public double Alpha { get; init; } = 16;

    /// <summary>Projection names to adapt (the last part of the HF name before <c>.weight</c>), e.g. <c>q_b_proj</c>, <c>kv_b_proj</c>, <c>o_proj</c>, <c>gate_proj</c>.</summary>
    public IReadOnlyList<string> TargetModules { get; init; } = ["q_a_proj", "q_b_proj", "q_proj", "kv_b_proj", "o_proj"];

    /// <summary>Seed of A's initialisation (B starts at zero, so the adapted model starts equal to the base).</summary>
    public int Seed { get; init; } = 1;

    /// <summary>α/r.</summary>
    public double Scale => Alpha / Rank;

    /// <summary>Throws when a value is out of range.</summary>
    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(Rank, 1);
        if (!(Alpha > 0)) throw new ArgumentOutOfRangeException(nameof(Alpha), Alpha, "must be positive");
        if (TargetModules.Count == 0) throw new ArgumentException("no target modules", nameof(TargetModules));
    }

    /// <summary>Whether HF tensor <paramref name="name"/> (a 2-D <c>….{module}.weight</c>) is adapted.</summary>
    public bool Targets(string name)
    {
        if (!name.EndsWith(".weight", StringComparison.Ordinal)) return false;
        var module = name[..^".weight".Length];
        module = module[(module.LastIndexOf('.') + 1)..];
        return TargetModules.Contains(module, StringComparer.Ordinal);
    }
}
