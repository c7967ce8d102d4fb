using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using DeepSeek.Runtime.Compute.Cpu;

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
        if (typeof(T) == typeof(float) && PackedGemm.IsSupported)
        {
            FloatForward(AsFloat(x), AsFloat(w), AsFloat(bias), AsFloat(y), tokens, inputs, outputs);
            return;
        }
        for (var t = 0; t < tokens; t++)
        {
            var xt = x.Slice(t * inputs, inputs);
            for (var o = 0; o < outputs; o++)
                y[t * outputs + o] = (bias.IsEmpty ? T.Zero : bias[o]) + Dot(xt, w.Slice(o * inputs, inputs));
        }
    }

    /// <summary>Accumulates dx [T, in], dw [out, in] and dbias [out] (empty spans skip a gradient).</summary>
    public static void Backward<T>(ReadOnlySpan<T> dy, ReadOnlySpan<T> x, ReadOnlySpan<T> w, Span<T> dx, Span<T> dw, Span<T> dbias, int tokens, int inputs, int outputs)
        where T : IFloatingPointIeee754<T>
    {
        Check(x.Length, w.Length, dy.Length, tokens, inputs, outputs);
        if (typeof(T) == typeof(float) && PackedGemm.IsSupported)
        {
            FloatBackward(AsFloat(dy), AsFloat(x), AsFloat(w), AsFloat(dx), AsFloat(dw), AsFloat(dbias), tokens, inputs, outputs);
            return;
        }
        for (var t = 0; t < tokens; t++)
        {
            var xt = x.Slice(t * inputs, inputs);
            for (var o = 0; o < outputs; o++)
            {
                var g = dy[t * outputs + o];
                if (!dbias.IsEmpty) dbias[o] += g;
                var wo = w.Slice(o * inputs, inputs);
                if (!dx.IsEmpty) AddScaled(dx.Slice(t * inputs, inputs), wo, g);
                if (!dw.IsEmpty) AddScaled(dw.Slice(o * inputs, inputs), xt, g);
            }
        }
    }

    /// <summary>The float path of <see cref="Forward{T}"/>: y = x·Wᵀ through a packed Wᵀ panel [in, out].</summary>
    private static void FloatForward(ReadOnlySpan<float> x, ReadOnlySpan<float> w, ReadOnlySpan<float> bias, Span<float> y, int tokens, int inputs, int outputs)
    {
        var panel = PackedGemm.Rent(inputs * PackedGemm.PanelWidth(outputs));
        try
        {
            PackedGemm.Pack(w, rowStride: 1, colStride: inputs, inputs, outputs, panel);
            if (!bias.IsEmpty)
                for (var t = 0; t < tokens; t++) bias[..outputs].CopyTo(y.Slice(t * outputs, outputs));
            PackedGemm.Multiply(x, inputs, 1, panel, y, outputs, tokens, outputs, inputs, accumulate: !bias.IsEmpty);
        }
        finally
        {
            PackedGemm.Return(panel);
        }
    }

    /// <summary>The float path of <see cref="Backward{T}"/>: dx += dy·W (W as a panel [out, in]), dW += dyᵀ·x (x as a panel [T, in]).</summary>
    private static void FloatBackward(ReadOnlySpan<float> dy, ReadOnlySpan<float> x, ReadOnlySpan<float> w, Span<float> dx, Span<float> dw, Span<float> dbias, int tokens, int inputs, int outputs)
    {
        var panel = PackedGemm.Rent(Math.Max(outputs, tokens) * PackedGemm.PanelWidth(inputs));
        try
        {
            if (!dx.IsEmpty)
            {
                PackedGemm.Pack(w, rowStride: inputs, colStride: 1, outputs, inputs, panel);
                PackedGemm.Multiply(dy, outputs, 1, panel, dx, inputs, tokens, inputs, outputs, accumulate: true);
            }
            if (!dw.IsEmpty)
            {
                PackedGemm.Pack(x, rowStride: inputs, colStride: 1, tokens, inputs, panel);
                PackedGemm.Multiply(dy, aRowStride: 1, aColStride: outputs, panel, dw, inputs, outputs, inputs, tokens, accumulate: true);
            }
        }
        finally
        {
            PackedGemm.Return(panel);
        }
        if (dbias.IsEmpty) return;
        for (var t = 0; t < tokens; t++)
            for (var o = 0; o < outputs; o++) dbias[o] += dy[t * outputs + o];
    }

    /// <summary>Σ a·b; SIMD through TensorPrimitives for float (the JIT drops the branch for other T).</summary>
    internal static T Dot<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b) where T : IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float))
        {
            return T.CreateTruncating(TensorPrimitives.Dot(AsFloat(a), AsFloat(b)));
        }
        var s = T.Zero;
        for (var i = 0; i < a.Length; i++) s += a[i] * b[i];
        return s;
    }

    /// <summary>acc += a·scale.</summary>
    internal static void AddScaled<T>(Span<T> acc, ReadOnlySpan<T> a, T scale) where T : IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float))
        {
            var f = MemoryMarshal.CreateSpan(ref Unsafe.As<T, float>(ref MemoryMarshal.GetReference(acc)), acc.Length);
            TensorPrimitives.MultiplyAdd(AsFloat(a), float.CreateTruncating(scale), f, f);
            return;
        }
        for (var i = 0; i < acc.Length; i++) acc[i] += a[i] * scale;
    }

    /// <summary>The same elements seen as float; only called when T is float.</summary>
    internal static ReadOnlySpan<float> AsFloat<T>(ReadOnlySpan<T> span) =>
        MemoryMarshal.CreateReadOnlySpan(ref Unsafe.As<T, float>(ref MemoryMarshal.GetReference(span)), span.Length);

    /// <summary>The same elements seen as float; only called when T is float.</summary>
    internal static Span<float> AsFloat<T>(Span<T> span) =>
        MemoryMarshal.CreateSpan(ref Unsafe.As<T, float>(ref MemoryMarshal.GetReference(span)), span.Length);

    private static void Check(int x, int w, int y, int tokens, int inputs, int outputs)
    {
        if (x < tokens * inputs || w < outputs * inputs || y < tokens * outputs)
            throw new ArgumentException($"linear buffers: x {x}, w {w}, y {y} for T={tokens}, in={inputs}, out={outputs}");
    }
}
