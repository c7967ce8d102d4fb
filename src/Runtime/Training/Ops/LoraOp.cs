using System.Numerics;

namespace DeepSeek.Runtime.Training.Ops;

/// <summary>
/// The LoRA branch of an adapted projection (Hu et al. 2021, with PEFT's dropout on the branch input only):
/// y += s·(m ⊙ x)·Aᵀ·Bᵀ with x [rows, in], A [r, in], B [out, r], s = α/r and m the dropout mask (0 or 1/(1−p) per
/// element; empty = no dropout). Forward keeps xd = m ⊙ x and us = s·xd·Aᵀ [rows, r]. Backward (gradients accumulate):
/// dB += dyᵀ·us; du = s·dy·B; dA += duᵀ·xd; dx += m ⊙ (du·A).
/// </summary>
public static class LoraOp
{
    /// <summary>Adds the branch to <paramref name="y"/>; writes <paramref name="xd"/> [rows, in] and <paramref name="us"/> [rows, r] for the backward.</summary>
    public static void Forward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> mask, ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> xd, Span<T> us, Span<T> y,
        int rows, int inputs, int outputs, int rank, T scale) where T : IFloatingPointIeee754<T>
    {
        Check(x.Length, a.Length, b.Length, y.Length, rows, inputs, outputs, rank);
        var n = rows * inputs;
        if (mask.IsEmpty) x[..n].CopyTo(xd);
        else for (var i = 0; i < n; i++) xd[i] = mask[i] * x[i];
        for (var t = 0; t < rows; t++)
        {
            var xt = xd.Slice(t * inputs, inputs);
            var ut = us.Slice(t * rank, rank);
            for (var k = 0; k < rank; k++) ut[k] = scale * LinearOp.Dot<T>(xt, a.Slice(k * inputs, inputs));
            var yt = y.Slice(t * outputs, outputs);
            for (var o = 0; o < outputs; o++) yt[o] += LinearOp.Dot<T>(ut, b.Slice(o * rank, rank));
        }
    }

    /// <summary>
    /// Accumulates dA, dB and dx (empty <paramref name="dx"/> skips it) from dy, using the forward's xd and us;
    /// <paramref name="du"/> [rows, r] and <paramref name="dxd"/> [rows, in] (only used with a mask) are scratch.
    /// </summary>
    public static void Backward<T>(ReadOnlySpan<T> dy, ReadOnlySpan<T> mask, ReadOnlySpan<T> xd, ReadOnlySpan<T> us, ReadOnlySpan<T> a, ReadOnlySpan<T> b,
        Span<T> du, Span<T> dxd, Span<T> dx, Span<T> da, Span<T> db, int rows, int inputs, int outputs, int rank, T scale) where T : IFloatingPointIeee754<T>
    {
        Check(xd.Length, a.Length, b.Length, dy.Length, rows, inputs, outputs, rank);
        // dus = dy·B (gradient w.r.t. us) and dB += dyᵀ·us: a linear layer with input us and weight B.
        du[..(rows * rank)].Clear();
        LinearOp.Backward<T>(dy, us, b, du, db, [], rows, rank, outputs);
        for (var i = 0; i < rows * rank; i++) du[i] *= scale;
        if (mask.IsEmpty || dx.IsEmpty)
        {
            LinearOp.Backward<T>(du, xd, a, dx, da, [], rows, inputs, rank);
            return;
        }
        var n = rows * inputs;
        dxd[..n].Clear();
        LinearOp.Backward<T>(du, xd, a, dxd, da, [], rows, inputs, rank);
        for (var i = 0; i < n; i++) dx[i] += mask[i] * dxd[i];
    }

    private static void Check(int x, int a, int b, int y, int rows, int inputs, int outputs, int rank)
    {
        if (x < rows * inputs || a < rank * inputs || b < outputs * rank || y < rows * outputs)
            throw new ArgumentException($"LoRA buffers: x {x}, A {a}, B {b}, y {y} for rows={rows}, in={inputs}, out={outputs}, r={rank}");
    }
}
