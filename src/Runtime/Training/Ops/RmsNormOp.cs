using System.Numerics;

namespace DeepSeek.Runtime.Training.Ops;

/// <summary>
/// y = x · r · w per row, r = (mean(x²) + eps)^−½. Forward keeps r per row for the backward:
/// dw += Σ_rows dy ⊙ x · r;  dx += r · (w ⊙ dy) − x · r³/n · Σ_i (w ⊙ dy ⊙ x).
/// </summary>
public static class RmsNormOp
{
    /// <summary>Normalises <paramref name="rows"/> rows of <paramref name="dim"/>; writes the inverse RMS of each row to <paramref name="rstd"/>.</summary>
    public static void Forward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> w, T eps, Span<T> y, Span<T> rstd, int rows, int dim)
        where T : IFloatingPointIeee754<T>
    {
        var n = T.CreateChecked(dim);
        for (var r = 0; r < rows; r++)
        {
            var xr = x.Slice(r * dim, dim);
            var ss = T.Zero;
            foreach (var v in xr) ss += v * v;
            var inv = T.One / T.Sqrt(ss / n + eps);
            rstd[r] = inv;
            var yr = y.Slice(r * dim, dim);
            for (var i = 0; i < dim; i++) yr[i] = xr[i] * inv * w[i];
        }
    }

    /// <summary>Accumulates dx and dw from dy, using the forward's <paramref name="rstd"/>.</summary>
    public static void Backward<T>(ReadOnlySpan<T> dy, ReadOnlySpan<T> x, ReadOnlySpan<T> w, ReadOnlySpan<T> rstd, Span<T> dx, Span<T> dw, int rows, int dim)
        where T : IFloatingPointIeee754<T>
    {
        var n = T.CreateChecked(dim);
        for (var r = 0; r < rows; r++)
        {
            var xr = x.Slice(r * dim, dim);
            var dyr = dy.Slice(r * dim, dim);
            var inv = rstd[r];
            var dot = T.Zero;
            for (var i = 0; i < dim; i++) dot += w[i] * dyr[i] * xr[i];
            var k = inv * inv * inv / n * dot;
            var dxr = dx.Slice(r * dim, dim);
            for (var i = 0; i < dim; i++)
            {
                if (!dw.IsEmpty) dw[i] += dyr[i] * xr[i] * inv;
                dxr[i] += inv * w[i] * dyr[i] - xr[i] * k;
            }
        }
    }
}
