using DeepSeek.Interop.Cuda;
using DeepSeek.Runtime.Compute;
using DeepSeek.Runtime.Model;

namespace DeepSeek.Interop.Gpu;

public sealed partial class CudaBackend
{
    private const int GemmTile = 64;

    /// <inheritdoc/>
    public void Embedding(ReadOnlySpan<int> ids, ComputeWeight table, ComputeTensor output)
    {
        var w = CudaWeight.Of(table);
        var o = CudaTensor.Of(output);
        if (o.Cols != w.Cols || o.Rows < ids.Length) throw new ArgumentException($"embedding: {ids.Length} ids from {w} into {o}");
        foreach (var id in ids)
            if ((uint)id >= (uint)w.Rows) throw new ArgumentOutOfRangeException(nameof(ids), $"token id {id} outside the vocabulary [0, {w.Rows})");
        if (ids.IsEmpty) return;
        lock (_lock)
        {
            var idPtr = UploadInts(ids);
            var a = Args().AddPointer(idPtr);
            w.AddTo(a).AddPointer(o.Pointer).Add((long)o.Stride).Add(ids.Length);
            Launch1D(new KernelKey("embedding", w.Suffix), (long)ids.Length * w.Cols, a);
        }
    }

    /// <inheritdoc/>
    public void RmsNorm(ComputeTensor x, ComputeWeight weight, float eps, ComputeTensor output)
    {
        var xi = CudaTensor.Of(x);
        var o = CudaTensor.Of(output);
        var w = CudaWeight.Of(weight);
        CheckSameShape(xi, o);
        if (w.Rows != 1 || w.Cols != xi.Cols) throw new ArgumentException($"rmsnorm: weight {w} for {xi}", nameof(weight));
        if (xi.Rows == 0) return;
        lock (_lock)
        {
            var a = Args().AddPointer(xi.Pointer).Add((long)xi.Stride).AddPointer(w.VectorPointer).Add(eps)
                .AddPointer(o.Pointer).Add((long)o.Stride).Add(xi.Rows).Add(xi.Cols);
            Launch(new KernelKey("rms_norm"), xi.Rows, Threads1D, a);
        }
    }

    /// <inheritdoc/>
    public void MatMul(ComputeTensor x, ComputeWeight weight, ComputeTensor output, ComputeWeight? bias = null)
    {
        var xi = CudaTensor.Of(x);
        var o = CudaTensor.Of(output);
        var w = CudaWeight.Of(weight);
        var b = bias is null ? null : CudaWeight.Of(bias);
        if (xi.Cols != w.Cols || o.Cols != w.Rows || o.Rows != xi.Rows)
            throw new ArgumentException($"matmul shapes: x {xi}, weight {w}, output {o}");
        if (b is not null && (b.Rows != 1 || b.Cols != w.Rows)) throw new ArgumentException($"matmul bias {b} for weight {w}", nameof(bias));
        if (xi.Rows == 0) return;
        lock (_lock)
        {
            if (w.IsFp8Block128 && Options.Fp8Activations && b is null) Fp8MatMul(xi, w, o);
            else
            {
                var a = Args().AddPointer(xi.Pointer).Add((long)xi.Stride);
                w.AddTo(a).AddPointer(b?.VectorPointer ?? 0).AddPointer(o.Pointer).Add((long)o.Stride).Add(xi.Rows).Add(w.Rows);
                Launch(new KernelKey("gemm_w", w.Suffix), GemmGrid(xi.Rows, w.Rows), Threads1D, a);
            }
        }
    }

    /// <summary>W8A8: activations quantised per 1×128 tile (act_quant_fp8), then the block-scaled FP8 GEMM.</summary>
    private void Fp8MatMul(CudaTensor x, CudaWeight w, CudaTensor output)
    {
        int m = x.Rows, k = x.Cols, n = w.Rows, kBlocks = (k + 127) / 128;
        var codes = Scratch(ref _codes, (long)m * k);
        var scales = Scratch(ref _scratchA, (long)m * kBlocks);
        var q = Args().AddPointer(x.Pointer).Add((long)x.Stride).Add(m).Add(k).AddPointer(codes.Pointer).AddPointer(scales.Pointer);
        Launch(new KernelKey("act_quant_fp8"), new LaunchDims((uint)m, (uint)kBlocks), 128, q);
        var g = Args().AddPointer(codes.Pointer).AddPointer(scales.Pointer).AddPointer(w.Data.Pointer).AddPointer(w.Scale!.Pointer)
            .AddPointer(output.Pointer).Add((long)output.Stride).Add(m).Add(n).Add(k);
        Launch(Fp8GemmKernelKey(), GemmGrid(m, n), Threads1D, g);
    }

    /// <summary>
    /// The FP8 GEMM kernel in use: null before the first FP8 GEMM, then <c>fp8_gemm_mma</c> (tensor cores) if
    /// <see cref="CudaBackendOptions.Fp8TensorCores"/> is set and it passed its check on this GPU, else <c>fp8_gemm</c>.
    /// </summary>
    public string? Fp8GemmKernel
    {
        get
        {
            lock (_lock) return _fp8Gemm?.Entry;
        }
    }

    /// <summary>Chooses the FP8 GEMM once: the tensor-core kernel only after it agreed with the scalar one here.</summary>
    private KernelKey Fp8GemmKernelKey()
    {
        if (_fp8Gemm is { } chosen) return chosen;
        var key = new KernelKey("fp8_gemm");
        if (Options.Fp8TensorCores)
        {
            string? why;
            try
            {
                why = Fp8GemmSelfCheck.Run(Context, _kernels);
            }
            catch (Exception e) when (e is CudaException or ArgumentException)
            {
                why = $"{e.GetType().Name}: {e.Message}";
            }
            if (why is null) key = new KernelKey("fp8_gemm_mma");
            else
                (Options.Warning ?? (w => Console.Error.WriteLine(w)))(
                    $"warning: cuda backend: the tensor-core FP8 GEMM (fp8_gemm_mma) disagreed with fp8_gemm on {Context.Device.Name} (sm_{_kernels.Target} PTX): {why}; using fp8_gemm (correct, slower).");
        }
        _fp8Gemm = key;
        return key;
    }

    private static LaunchDims GemmGrid(int rows, int cols) =>
        new((uint)((cols + GemmTile - 1) / GemmTile), (uint)((rows + GemmTile - 1) / GemmTile));

    /// <inheritdoc/>
    public void Add(ComputeTensor accumulator, ComputeTensor value)
    {
        var a = CudaTensor.Of(accumulator);
        var v = CudaTensor.Of(value);
        CheckSameShape(a, v);
        lock (_lock)
            Launch1D(new KernelKey("add_inplace"), (long)a.Rows * a.Cols,
                Args().AddPointer(a.Pointer).Add((long)a.Stride).AddPointer(v.Pointer).Add((long)v.Stride).Add(a.Rows).Add(a.Cols));
    }

    /// <inheritdoc/>
    public void SwiGlu(ComputeTensor gate, ComputeTensor up, ComputeTensor output)
    {
        var g = CudaTensor.Of(gate);
        var u = CudaTensor.Of(up);
        var o = CudaTensor.Of(output);
        CheckSameShape(g, u);
        CheckSameShape(g, o);
        lock (_lock)
            Launch1D(new KernelKey("swiglu"), (long)g.Rows * g.Cols,
                Args().AddPointer(g.Pointer).Add((long)g.Stride).AddPointer(u.Pointer).Add((long)u.Stride).AddPointer(o.Pointer).Add((long)o.Stride).Add(g.Rows).Add(g.Cols));
    }

    /// <inheritdoc/>
    public void Copy(ComputeTensor source, ComputeTensor destination)
    {
        var s = CudaTensor.Of(source);
        var d = CudaTensor.Of(destination);
        CheckSameShape(s, d);
        lock (_lock)
            Launch1D(new KernelKey("copy2d"), (long)s.Rows * s.Cols,
                Args().AddPointer(s.Pointer).Add((long)s.Stride).AddPointer(d.Pointer).Add((long)d.Stride).Add(s.Rows).Add(s.Cols));
    }

    /// <inheritdoc/>
    public void Rope(ComputeTensor x, int heads, int headDim, int offset, ReadOnlySpan<int> positions, RopeTable table)
    {
        ArgumentNullException.ThrowIfNull(table);
        var t = CudaTensor.Of(x);
        if (t.Cols != heads * headDim || offset + table.Dim > headDim || positions.Length != t.Rows)
            throw new ArgumentException($"rope: {t} with {heads}×{headDim} heads, offset {offset}, dim {table.Dim}, {positions.Length} positions");
        foreach (var p in positions)
            if ((uint)p >= (uint)table.MaxPositions)
                throw new ArgumentOutOfRangeException(nameof(positions), $"position {p} outside the RoPE table [0, {table.MaxPositions})");
        if (t.Rows == 0) return;
        lock (_lock)
        {
            var tables = RopeOnDevice(table);
            var pos = UploadInts(positions);
            var a = Args().AddPointer(t.Pointer).Add((long)t.Stride).Add(heads).Add(headDim).Add(offset).AddPointer(pos)
                .AddPointer(tables.Cos.Pointer).AddPointer(tables.Sin.Pointer).Add(table.Dim / 2).Add(table.Layout == RopeLayout.Interleaved ? 1 : 0);
            Launch(new KernelKey("rope"), t.Rows, 128, a);
        }
    }

    /// <summary>The table's cos/sin [MaxPositions, Dim/2] on the device, uploaded once per table (YaRN already folded in on the host).</summary>
    private RopeTables RopeOnDevice(RopeTable table)
    {
        if (_rope.TryGetValue(table, out var tables)) return tables;
        var half = table.Dim / 2;
        var cos = new float[(long)table.MaxPositions * half];
        var sin = new float[cos.Length];
        for (var p = 0; p < table.MaxPositions; p++)
        {
            table.Cos(p).CopyTo(cos.AsSpan(p * half, half));
            table.Sin(p).CopyTo(sin.AsSpan(p * half, half));
        }
        var c = AllocateWithRetry<float>(cos.Length);
        var s = AllocateWithRetry<float>(sin.Length);
        c.CopyFrom(cos);
        s.CopyFrom(sin);
        _ropeBuffers.Add(c);
        _ropeBuffers.Add(s);
        tables = new RopeTables(c, s);
        _rope.Add(table, tables);
        return tables;
    }

    /// <inheritdoc/>
    public void WriteCache(ComputeTensor source, ComputeTensor cache, ReadOnlySpan<TokenSlot> slots)
    {
        var s = CudaTensor.Of(source);
        var c = CudaTensor.Of(cache);
        if (s.Cols != c.Cols || slots.Length != s.Rows) throw new ArgumentException($"cache write: {s} into {c} with {slots.Length} slots");
        foreach (var slot in slots)
            if ((uint)slot.CacheRow >= (uint)c.Rows) throw new ArgumentOutOfRangeException(nameof(slots), $"cache row {slot.CacheRow} outside [0, {c.Rows})");
        if (slots.IsEmpty) return;
        lock (_lock)
        {
            var slotPtr = UploadInts(SlotInts(slots, c.Rows));
            Launch1D(new KernelKey("write_cache"), (long)s.Rows * s.Cols,
                Args().AddPointer(s.Pointer).Add((long)s.Stride).AddPointer(c.Pointer).Add((long)c.Stride).AddPointer(slotPtr).Add(s.Rows).Add(s.Cols));
        }
    }

    /// <inheritdoc/>
    public void RouterLogits(ComputeTensor x, ComputeWeight gate, Span<float> output)
    {
        var xi = CudaTensor.Of(x);
        var w = CudaWeight.Of(gate);
        if (output.Length < (long)xi.Rows * w.Rows) throw new ArgumentException($"router logits: {output.Length} values for {xi.Rows} × {w.Rows}", nameof(output));
        if (xi.Cols != w.Cols) throw new ArgumentException($"router shapes: x {xi}, gate {w}");
        if (xi.Rows == 0) return;
        lock (_lock)
        {
            var buffer = Scratch(ref _scratchB, (long)xi.Rows * w.Rows);
            var logits = new CudaTensor(buffer, 0, w.Rows, xi.Rows, w.Rows);
            // Router weights stay BF16/F32 (MODEL.md), so this is always the fp32-activation GEMM.
            var a = Args().AddPointer(xi.Pointer).Add((long)xi.Stride);
            w.AddTo(a).AddPointer(0).AddPointer(logits.Pointer).Add((long)logits.Stride).Add(xi.Rows).Add(w.Rows);
            Launch(new KernelKey("gemm_w", w.Suffix), GemmGrid(xi.Rows, w.Rows), Threads1D, a);
            buffer.CopyTo(output[..(xi.Rows * w.Rows)]);
        }
    }

    /// <inheritdoc/>
    public void GatherRows(ComputeTensor source, ReadOnlySpan<int> rows, ComputeTensor destination)
    {
        var s = CudaTensor.Of(source);
        var d = CudaTensor.Of(destination);
        if (s.Cols != d.Cols || d.Rows < rows.Length) throw new ArgumentException($"gather: {rows.Length} rows of {s} into {d}");
        foreach (var r in rows)
            if ((uint)r >= (uint)s.Rows) throw new ArgumentOutOfRangeException(nameof(rows), $"row {r} outside [0, {s.Rows})");
        if (rows.IsEmpty) return;
        lock (_lock)
        {
            var rowPtr = UploadInts(rows);
            Launch1D(new KernelKey("gather_rows"), (long)rows.Length * s.Cols,
                Args().AddPointer(s.Pointer).Add((long)s.Stride).AddPointer(rowPtr).AddPointer(d.Pointer).Add((long)d.Stride).Add(rows.Length).Add(s.Cols));
        }
    }

    /// <inheritdoc/>
    public void ScatterAddRows(ComputeTensor source, ReadOnlySpan<int> rows, ReadOnlySpan<float> scales, ComputeTensor destination)
    {
        var s = CudaTensor.Of(source);
        var d = CudaTensor.Of(destination);
        if (s.Cols != d.Cols || s.Rows < rows.Length || scales.Length < rows.Length) throw new ArgumentException($"scatter-add: {rows.Length} rows of {s} into {d}");
        foreach (var r in rows)
            if ((uint)r >= (uint)d.Rows) throw new ArgumentOutOfRangeException(nameof(rows), $"row {r} outside [0, {d.Rows})");
        if (rows.IsEmpty) return;
        lock (_lock)
        {
            var rowPtr = UploadInts(rows);
            var scalePtr = UploadFloats(scales[..rows.Length]);
            var a = Args().AddPointer(s.Pointer).Add((long)s.Stride).AddPointer(rowPtr).AddPointer(scalePtr).AddPointer(d.Pointer).Add((long)d.Stride).Add(rows.Length).Add(s.Cols);
            Launch(new KernelKey("scatter_add_rows"), (s.Cols + Threads1D - 1) / Threads1D, Threads1D, a);
        }
    }

    /// <summary>Slots as the kernels read them: (cache_row, first_row, position) triples, checked against the cache.</summary>
    private static int[] SlotInts(ReadOnlySpan<TokenSlot> slots, int cacheRows)
    {
        var ints = new int[slots.Length * 3];
        for (var i = 0; i < slots.Length; i++)
        {
            var s = slots[i];
            if (s.FirstRow < 0 || s.Position < 0 || (long)s.FirstRow + s.Position >= cacheRows)
                throw new ArgumentOutOfRangeException(nameof(slots), $"token {i} attends to cache rows [{s.FirstRow}, {(long)s.FirstRow + s.Position}] outside [0, {cacheRows})");
            ints[3 * i] = s.CacheRow;
            ints[3 * i + 1] = s.FirstRow;
            ints[3 * i + 2] = s.Position;
        }
        return ints;
    }
}
