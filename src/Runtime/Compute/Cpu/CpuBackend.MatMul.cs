using System.Buffers;
using System.Runtime.CompilerServices;

namespace DeepSeek.Runtime.Compute.Cpu;

public sealed partial class CpuBackend
{
    // Per calling thread: concurrent callers of one backend each fill their own job; workers only read the job of the
    // caller that holds the pool.
    [ThreadStatic] private static MatMulJob? t_matMul;

    /// <inheritdoc/>
    public void MatMul(ComputeTensor x, ComputeWeight weight, ComputeTensor output, ComputeWeight? bias = null)
    {
        var xi = CpuTensor.Of(x);
        var o = CpuTensor.Of(output);
        var w = CpuWeight.Of(weight);
        var b = bias is null ? null : CpuWeight.Of(bias).Vector;
        if (xi.Cols != w.Cols || o.Cols != w.Rows || o.Rows != xi.Rows)
            throw new ArgumentException($"matmul shapes: x {xi}, weight {w}, output {o}");
        if (xi.Rows == 0 || w.Rows == 0) return;

        // BF16 and FP8 weights on the native GEMMs: the activations rounded to bf16 once here, for every part (see NativeKernels).
        var xb = NativeKernelsActive && (w.IsBf16 || NativeCpuKernels.SupportsFp8(w))
            ? ArrayPool<ushort>.Shared.Rent(xi.Rows * NativeCpuKernels.Bf16Stride(xi.Cols))
            : null;
        try
        {
            if (xb is not null) NativeCpuKernels.ToBf16(xi, xb);
            var parts = PartsFor((long)xi.Rows * w.Rows * w.Cols, w.Rows);
            if (parts == 1)
            {
                MatMulRows(xi, w, b, o, 0, w.Rows, xb);
                return;
            }
            var job = t_matMul ??= new MatMulJob();
            job.Set(xi, w, b, o, xb, parts);
            try
            {
                Dispatch(job, parts);
            }
            finally
            {
                job.Set(null!, null!, null, null!, null, 1);
            }
        }
        finally
        {
            if (xb is not null) ArrayPool<ushort>.Shared.Return(xb);
        }
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void RouterLogits(ComputeTensor x, ComputeWeight gate, Span<float> output)
    {
        var xi = CpuTensor.Of(x);
        var w = CpuWeight.Of(gate);
        if (xi.Cols != w.Cols || output.Length < xi.Rows * w.Rows)
            throw new ArgumentException($"router shapes: x {xi}, gate {w}, output of {output.Length} values");
        // Tiny (tokens × n_routed dot products): inline, straight into the host buffer, the same dot product as MatMul.
        if (w.IsBf16 || w.IsFp8InPlace)
        {
            // Rows read in place (no per-step decode of the router); DotBf16/DotFp8 are Dot of the decoded row.
            for (var e = 0; e < w.Rows; e++)
                for (var t = 0; t < xi.Rows; t++)
                    output[t * w.Rows + e] = w.IsBf16 ? RowDot.DotBf16(xi.Row(t), w.Bf16Row(e)) : RowDot.DotFp8(xi.Row(t), w.Fp8Row(e), w.Fp8RowScales(e), w.BlockCols);
            return;
        }
        var scratch = w.IsF32 ? null : ArrayPool<float>.Shared.Rent(w.Cols);
        try
        {
            for (var e = 0; e < w.Rows; e++)
            {
                var row = WeightRow(w, e, scratch, 0);
                for (var t = 0; t < xi.Rows; t++) output[t * w.Rows + e] = RowDot.Dot(xi.Row(t), row);
            }
        }
        finally
        {
            if (scratch is not null) ArrayPool<float>.Shared.Return(scratch);
        }
    }

    /// <summary>
    /// Output columns [j0, j1) for every row: four weight rows at a time are read (and decoded) once and applied to all
    /// token rows, so a multi-row decode step streams the weights once; each value is <see cref="RowDot"/>'s fixed-order
    /// dot product of a token row and a weight row, whatever the number of rows, the grouping or the threads.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void MatMulRows(CpuTensor x, CpuWeight w, float[]? bias, CpuTensor o, int j0, int j1, ushort[]? xBf16 = null)
    {
        if (xBf16 is not null)
        {
            if (w.IsBf16) NativeCpuKernels.GemmBf16(xBf16, x.Rows, w, bias, o, j0, j1);
            else NativeCpuKernels.GemmFp8(xBf16, x.Rows, w, bias, o, j0, j1);
            return;
        }
        if (w.Transposed is { } wt)
        {
            MatMulTransposed(x, wt, w.Rows, bias, o, j0, j1);
            return;
        }
        if (x.Rows == 1 && w.IsBf16)
        {
            // One token (decode): stream each weight row once, in memory order, widening in registers. Four interleaved
            // rows decoded to scratch (below) read at a third of the bandwidth; the result is the same bit for bit.
            var xr = x.Row(0);
            var at = o.Offset;
            for (var j = j0; j < j1; j++) o.Data[at + j] = RowDot.DotBf16(xr, w.Bf16Row(j)) + (bias is null ? 0f : bias[j]);
            return;
        }
        if (x.Rows == 1 && w.IsFp8InPlace)
        {
            // The same for block-scaled FP8: codes decoded and scaled in registers, half the bytes of BF16 per weight.
            var xr = x.Row(0);
            var at = o.Offset;
            for (var j = j0; j < j1; j++)
                o.Data[at + j] = RowDot.DotFp8(xr, w.Fp8Row(j), w.Fp8RowScales(j), w.BlockCols) + (bias is null ? 0f : bias[j]);
            return;
        }
        if (x.Rows <= MaxStreamedRows && (w.IsBf16 || w.IsFp8InPlace))
        {
            MatMulStreamed(x, w, bias, o, j0, j1);
            return;
        }
        var cols = w.Cols;
        var scratch = w.IsF32 ? null : ArrayPool<float>.Shared.Rent(4 * cols);
        try
        {
            Span<float> r = stackalloc float[8];
            var rows = x.Rows;
            var outData = o.Data;
            var j = j0;
            for (; j + 4 <= j1; j += 4)
            {
                var w0 = WeightRow(w, j, scratch, 0);
                var w1 = WeightRow(w, j + 1, scratch, 1);
                var w2 = WeightRow(w, j + 2, scratch, 2);
                var w3 = WeightRow(w, j + 3, scratch, 3);
                var t = 0;
                // Token rows in pairs (each weight vector loaded once for both), then a lone last row: the same per-pair sums.
                for (; t + 2 <= rows; t += 2)
                {
                    RowDot.Dot4x2(x.Row(t), x.Row(t + 1), w0, w1, w2, w3, r);
                    var at = o.Offset + t * o.Stride + j;
                    var at1 = at + o.Stride;
                    for (var k = 0; k < 4; k++)
                    {
                        var add = bias is null ? 0f : bias[j + k];
                        outData[at + k] = r[k] + add;
                        outData[at1 + k] = r[4 + k] + add;
                    }
                }
                if (t < rows)
                {
                    RowDot.Dot4(x.Row(t), w0, w1, w2, w3, r);
                    var at = o.Offset + t * o.Stride + j;
                    for (var k = 0; k < 4; k++) outData[at + k] = r[k] + (bias is null ? 0f : bias[j + k]);
                }
            }
            for (; j < j1; j++)
            {
                var row = WeightRow(w, j, scratch, 0);
                var add = bias is null ? 0f : bias[j];
                for (var t = 0; t < rows; t++)
                    outData[o.Offset + t * o.Stride + j] = RowDot.Dot(x.Row(t), row) + add;
            }
        }
        finally
        {
            if (scratch is not null) ArrayPool<float>.Shared.Return(scratch);
        }
    }

    /// <summary>Most token rows <see cref="MatMulStreamed"/> takes; more go through decoded rows and <see cref="RowDot.Dot4x2"/>.</summary>
    internal const int MaxStreamedRows = 8;

    /// <summary>
    /// Output columns [j0, j1) for 2..<see cref="MaxStreamedRows"/> token rows (a batched decode step, a speculative
    /// step) and a BF16 or in-place FP8 weight: each pair of weight rows is read from memory once, decoded in registers,
    /// and applied to all token rows (<see cref="RowDot.Bf16Rows"/>), bit for bit the one-row values.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void MatMulStreamed(CpuTensor x, CpuWeight w, float[]? bias, CpuTensor o, int j0, int j1)
    {
        Span<float> r = stackalloc float[2 * MaxStreamedRows];
        int rows = x.Rows, n = w.Cols, xStride = x.Stride, oStride = o.Stride;
        var xs = x.Data.AsSpan(x.Offset, (rows - 1) * xStride + n);
        var outData = o.Data;
        for (var j = j0; j < j1; j += 2)
        {
            var j2 = Math.Min(j + 1, j1 - 1);   // a lone last row is paired with itself
            if (w.IsBf16) RowDot.Bf16Rows(xs, xStride, rows, w.Bf16Row(j), w.Bf16Row(j2), r);
            else RowDot.Fp8Rows(xs, xStride, rows, w.Fp8Row(j), w.Fp8RowScales(j), w.Fp8Row(j2), w.Fp8RowScales(j2), w.BlockCols, r);
            float add0 = bias is null ? 0f : bias[j], add1 = bias is null ? 0f : bias[j2];
            var at = o.Offset + j;
            for (var t = 0; t < rows; t++, at += oStride)
            {
                outData[at] = r[2 * t] + add0;
                if (j2 != j) outData[at + 1] = r[2 * t + 1] + add1;
            }
        }
    }

    /// <summary>
    /// Output columns [j0, j1) from a transposed small F32 weight (<see cref="CpuWeight.Transposed"/>): token rows in pairs
    /// through <see cref="RowDot.Columns"/>, each output one fixed FMA chain over the inputs, then the bias.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void MatMulTransposed(CpuTensor x, float[] wt, int n, float[]? bias, CpuTensor o, int j0, int j1)
    {
        var rows = x.Rows;
        var outData = o.Data.AsSpan();
        for (var t = 0; t < rows; t += 2)
        {
            var two = t + 1 < rows;
            var o0 = outData.Slice(o.Offset + t * o.Stride, n);
            var o1 = two ? outData.Slice(o.Offset + (t + 1) * o.Stride, n) : o0;
            RowDot.Columns(x.Row(t), two ? x.Row(t + 1) : x.Row(t), two, wt, n, j0, j1, o0, o1);
            if (bias is null) continue;
            for (var j = j0; j < j1; j++)
            {
                o0[j] += bias[j];
                if (two) o1[j] += bias[j];
            }
        }
    }

    /// <summary>Row <paramref name="r"/> of <paramref name="w"/> as fp32: in place for F32 weights, else decoded into part <paramref name="slot"/> of <paramref name="scratch"/>.</summary>
    private static ReadOnlySpan<float> WeightRow(CpuWeight w, int r, float[]? scratch, int slot)
    {
        if (w.IsF32) return w.F32Row(r);
        var span = scratch.AsSpan(slot * w.Cols, w.Cols);
        w.DecodeRow(r, span);
        return span;
    }

    /// <summary>
    /// MatMul split by output columns (weight rows), handed out in chunks of about an eighth of a part: a worker that wakes
    /// late (tens of microseconds on a loaded machine, a tenth of a decode-sized expert matmul) finds the caller has taken
    /// more chunks, instead of the caller waiting for it to finish a fixed half. Every value is the same whatever the split.
    /// </summary>
    private sealed class MatMulJob : ICpuJob
    {
        private CpuTensor _x = null!, _o = null!;
        private CpuWeight _w = null!;
        private float[]? _bias;
        private ushort[]? _xBf16;
        private int _next, _chunk;

        public void Set(CpuTensor x, CpuWeight w, float[]? bias, CpuTensor o, ushort[]? xBf16, int parts)
        {
            (_x, _w, _bias, _o, _xBf16) = (x, w, bias, o, xBf16);
            _next = 0;
            // Multiples of four rows keep Dot4 and the streamed pairs whole.
            _chunk = w is null ? 0 : Math.Max(4, (w.Rows / (8 * parts) + 3) & ~3);
        }

        public void Execute(int part, int parts)
        {
            var rows = _w.Rows;
            while (true)
            {
                var start = Interlocked.Add(ref _next, _chunk) - _chunk;
                if (start >= rows) return;
                MatMulRows(_x, _w, _bias, _o, start, Math.Min(rows, start + _chunk), _xBf16);
            }
        }
    }
}
