namespace DeepSeek.Runtime.Training.Lora;

/// <summary>
/// LoRA settings (Hu et al. 2021): y = x·W₀ᵀ + (α/r)·dropout(x)·Aᵀ·Bᵀ on the targeted projections, W₀ frozen; merged,
/// W = W₀ + (α/r)·B·A (dropout is a training device only, as in PEFT).
/// </summary>
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

    /// <summary>
    /// Dropout probability p on the input of each adapter's A (PEFT's <c>lora_dropout</c>): during training each input
    /// element of the branch is zeroed with probability p and the rest scaled by 1/(1−p); never at inference or merge.
    /// </summary>
    public double Dropout { get; init; }

    /// <summary>α/r.</summary>
    public double Scale => Alpha / Rank;

    /// <summary>Throws when a value is out of range.</summary>
    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(Rank, 1);
        if (!(Alpha > 0)) throw new ArgumentOutOfRangeException(nameof(Alpha), Alpha, "must be positive");
        if (!(Dropout >= 0 && Dropout < 1)) throw new ArgumentOutOfRangeException(nameof(Dropout), Dropout, "LoRA dropout must be in [0, 1)");
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
