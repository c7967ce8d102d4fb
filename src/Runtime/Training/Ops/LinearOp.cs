using System.Numerics;

namespace DeepSeek.Runtime.Training.Ops;

/// <summary>
/// y = x·Wᵀ + b with x [T, in], W [out, in] (HF layout), b [out]. Backward (llm.c convention: parameter gradients
/// accumulate with +=, the input gradient is accumulated too so residual branches can share it):
/// dx += dy·W, dW += dyᵀ·x, db += Σ_t dy.
/// </summary>
public static class LinearOp
{
    /// <summary>y [T, out] = x [T, in] · wᵀ (+ bias).</summary>
    public static void Forward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> w, ReadOnlySpan<T> bias, Span<T> y, int tokens, int inputs, int outputs)
        where T : IFloatingPointIeee754<T>
    {
        Check(x.Length, w.Length, y.Length, tokens, inputs, outputs);
        for (var t = 0; t < tokens; t++)
        {
            var xt = x.Slice(t * inputs, inputs);
            for (var o = 0; o < outputs; o++)
            {
                var s = bias.IsEmpty ? T.Zero : bias[o];
                var wo = w.Slice(o * inputs, inputs);
                for (var i = 0; i < inputs; i++) s += xt[i] * wo[i];
                y[t * outputs + o] = s;
            }
        }
    }

    /// <summary>Accumulates dx [T, in], dw [out, in] and dbias [out] (empty spans skip a gradient).</summary>
    public static void Backward<T>(ReadOnlySpan<T> dy, ReadOnlySpan<T> x, ReadOnlySpan<T> w, Span<T> dx, Span<T> dw, Span<T> dbias, int tokens, int inputs, int outputs)
        where T : IFloatingPointIeee754<T>
    {
        Check(x.Length, w.Length, dy.Length, tokens, inputs, outputs);
        for (var t = 0; t < tokens; t++)
        {
            var xt = x.Slice(t * inputs, inputs);
            for (var o = 0; o < outputs; o++)
            {
                var g = dy[t * outputs + o];
                if (!dbias.IsEmpty) dbias[o] += g;
                var wo = w.Slice(o * inputs, inputs);
                if (!dx.IsEmpty)
                {
                    var dxt = dx.Slice(t * inputs, inputs);
                    for (var i = 0; i < inputs; i++) dxt[i] += g * wo[i];
                }
                if (!dw.IsEmpty)
                {
                    var dwo = dw.Slice(o * inputs, inputs);
                    for (var i = 0; i < inputs; i++) dwo[i] += g * xt[i];
                }
            }
        }
    }

    private static void Check(int x, int w, int y, int tokens, int inputs, int outputs)
    {
        if (x < tokens * inputs || w < outputs * inputs || y < tokens * outputs)
            throw new ArgumentException($"linear buffers: x {x}, w {w}, y {y} for T={tokens}, in={inputs}, out={outputs}");
    }
}
