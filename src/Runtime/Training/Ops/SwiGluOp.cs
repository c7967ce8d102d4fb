using System.Numerics;

namespace DeepSeek.Runtime.Training.Ops;

/// <summary>
/// h = silu(g) ⊙ u, silu(g) = g·σ(g). Backward: du += dh ⊙ silu(g); dg += dh ⊙ u ⊙ σ(g)·(1 + g·(1 − σ(g))).
/// </summary>
public static class SwiGluOp
{
    /// <summary>h = silu(gate) ⊙ up, elementwise.</summary>
    public static void Forward<T>(ReadOnlySpan<T> gate, ReadOnlySpan<T> up, Span<T> h) where T : IFloatingPointIeee754<T>
    {
        for (var i = 0; i < h.Length; i++) h[i] = gate[i] * Sigmoid(gate[i]) * up[i];
    }

    /// <summary>Accumulates dgate and dup.</summary>
    public static void Backward<T>(ReadOnlySpan<T> dh, ReadOnlySpan<T> gate, ReadOnlySpan<T> up, Span<T> dgate, Span<T> dup) where T : IFloatingPointIeee754<T>
    {
        for (var i = 0; i < dh.Length; i++)
        {
            var s = Sigmoid(gate[i]);
            dup[i] += dh[i] * gate[i] * s;
            dgate[i] += dh[i] * up[i] * s * (T.One + gate[i] * (T.One - s));
        }
    }

    internal static T Sigmoid<T>(T x) where T : IFloatingPointIeee754<T> => T.One / (T.One + T.Exp(-x));
}
