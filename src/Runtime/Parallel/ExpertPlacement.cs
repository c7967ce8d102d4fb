namespace DeepSeek.Runtime.Distributed;

/// <summary>
/// Which rank of the expert-parallel group holds which routed expert: contiguous blocks, rank r holds experts
/// [r·E/P, (r+1)·E/P). Contiguous blocks keep DeepSeek's expert groups (<c>n_group</c>) on as few ranks as possible,
/// so group-limited routing also limits the ranks a token reaches.
/// </summary>
public sealed class ExpertPlacement
{
    /// <summary>Places <paramref name="experts"/> routed experts on <paramref name="ranks"/> ranks.</summary>
    /// <exception cref="ArgumentException">The experts do not divide evenly over the ranks.</exception>
    public ExpertPlacement(int experts, int ranks)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(experts, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(ranks, 1);
        if (experts % ranks != 0)
            throw new ArgumentException($"Expert parallelism needs the {experts} routed experts (n_routed_experts) to divide evenly over {ranks} ranks.");
        Experts = experts;
        Ranks = ranks;
        PerRank = experts / ranks;
    }

    /// <summary>Routed experts in the model.</summary>
    public int Experts { get; }

    /// <summary>Ranks of the expert-parallel group.</summary>
    public int Ranks { get; }

    /// <summary>Experts each rank holds.</summary>
    public int PerRank { get; }

    /// <summary>The rank that holds <paramref name="expert"/>.</summary>
    public int Owner(int expert) => expert / PerRank;

    /// <summary>First expert rank <paramref name="rank"/> holds.</summary>
    public int First(int rank) => rank * PerRank;
}
