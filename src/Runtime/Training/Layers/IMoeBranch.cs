using System.Numerics;

namespace DeepSeek.Runtime.Training.Layers;

/// <summary>
/// The MoE branch of a training block, as <see cref="BlockTrainer{T}"/> drives it: <see cref="MoeLayer{T}"/> in one
/// process, or an expert-parallel layer whose experts live on other ranks (<c>ExpertParallelMoeLayer</c>).
/// </summary>
internal interface IMoeBranch<T> where T : IFloatingPointIeee754<T>
{
    /// <summary>α Σ f_i P_i of the last forward's sequence.</summary>
    T BalanceLoss { get; }

    /// <summary>Tokens of this sequence routed to each expert by the last forward.</summary>
    int[] Load { get; }

    /// <summary>y [T, hidden] = MoE(x).</summary>
    void Forward(MoeParameters<T> p, ReadOnlySpan<T> x, float[]? bias, Span<T> y);

    /// <summary>Accumulates gradients and dx of ⟨dy, y⟩ + balanceScale·BalanceLoss.</summary>
    void Backward(MoeParameters<T> p, ReadOnlySpan<T> dy, MoeParameters<T> grads, Span<T> dx, T balanceScale);
}

/// <summary>Makes the MoE branch of layer <paramref name="layer"/> for sequences of <paramref name="tokens"/> tokens with balance-loss weight <paramref name="alpha"/>.</summary>
internal delegate IMoeBranch<T> MoeBranchFactory<T>(int layer, int tokens, T alpha) where T : IFloatingPointIeee754<T>;
