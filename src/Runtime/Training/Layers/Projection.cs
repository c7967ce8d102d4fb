using System.Numerics;
using DeepSeek.Runtime.Training.Lora;
using DeepSeek.Runtime.Training.Ops;

namespace DeepSeek.Runtime.Training.Layers;

/// <summary>
/// A Linear projection as the layers call it: <see cref="LinearOp"/> on the (frozen or trained) weight, plus the LoRA
/// branch of that weight when one is attached (<see cref="LoraBranches{T}"/>, looked up by the weight array).
/// </summary>
internal static class Projection
{
    /// <summary>y [rows, out] = x·Wᵀ (+ bias) (+ s·dropout(x)·Aᵀ·Bᵀ).</summary>
    public static void Forward<T>(LoraBranches<T>? lora, ReadOnlySpan<T> x, T[] w, ReadOnlySpan<T> bias, Span<T> y, int rows, int inputs, int outputs)
        where T : IFloatingPointIeee754<T>
    {
        LinearOp.Forward<T>(x, w, bias, y, rows, inputs, outputs);
        lora?.Forward(w, x, y, rows);
    }

    /// <summary>Accumulates dx, dW, dbias (and the branch's dA, dB) from dy.</summary>
    public static void Backward<T>(LoraBranches<T>? lora, ReadOnlySpan<T> dy, ReadOnlySpan<T> x, T[] w, Span<T> dx, Span<T> dw, Span<T> dbias, int rows, int inputs, int outputs)
        where T : IFloatingPointIeee754<T>
    {
        LinearOp.Backward<T>(dy, x, w, dx, dw, dbias, rows, inputs, outputs);
        lora?.Backward(w, dy, dx, rows);
    }
}
