using System.Runtime.CompilerServices;
using DeepSeek.Interop.Cuda;
using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Compute;
using DeepSeek.Runtime.Model;

namespace DeepSeek.Interop.Gpu;

/// <summary>
/// <see cref="IComputeBackend"/> on an NVIDIA GPU through our own driver interop and PTX kernels (native/ptx). Weights
/// are uploaded once per tensor in their stored dtype; activations and the KV cache live in device memory; the host
/// sees only what the seam downloads (router logits, final logits). Everything runs in order on the legacy default
/// stream; the small index uploads (token ids, rows, slots) are synchronous copies from pageable memory, which the
/// driver orders after the kernels already queued, so the one reusable index buffer is safe. Calls are serialised.
/// </summary>
/// <remarks>
/// Activation tensors are freed when the GC finalises them (the seam allocates per op, as the CPU backend does); on
/// out-of-memory the backend collects once and retries. A tuned backend would plan one arena per forward pass.
/// </remarks>
public sealed partial class CudaBackend : IComputeBackend
{
    private const int Threads1D = 256;
    private readonly Lock _lock = new();
    private readonly KernelLibrary _kernels;
    private readonly KernelArguments _args = new();
    private readonly Dictionary<(object File, string Name), CudaWeight> _weights = [];
    private readonly ConditionalWeakTable<RopeTable, RopeTables> _rope = [];
    private readonly List<IDisposable> _ropeBuffers = [];
    private DeviceBuffer<int>? _ints;
    private DeviceBuffer<float>? _floats;
    private DeviceBuffer<float>? _scratchA;
    private DeviceBuffer<float>? _scratchB;
    private DeviceBuffer<byte>? _codes;
    private KernelKey? _fp8Gemm;
    private bool _disposed;

    /// <summary>Opens the GPU (<see cref="CudaBackendOptions.Device"/>) and prepares the shipped kernels.</summary>
    /// <exception cref="CudaUnavailableException">No NVIDIA driver on this machine.</exception>
    /// <exception cref="CudaException">No usable device, or another driver call failed.</exception>
    /// <exception cref="NotSupportedException">The GPU is older than sm_80.</exception>
    public CudaBackend(CudaBackendOptions? options = null) : this(CudaContext.Create((options ?? new CudaBackendOptions()).Device), options ?? new CudaBackendOptions())
    {
    }

    internal CudaBackend(CudaContext context, CudaBackendOptions options)
    {
        Context = context;
        Options = options;
        try
        {
            _kernels = new KernelLibrary(context);
        }
        catch
        {
            context.Dispose();
            throw;
        }
    }

    /// <summary>The GPU's context.</summary>
    public CudaContext Context { get; }

    /// <summary>The settings in use.</summary>
    public CudaBackendOptions Options { get; }

    /// <summary>The shipped kernels on this GPU.</summary>
    public KernelLibrary Kernels => _kernels;

    /// <inheritdoc/>
    public string Name => "cuda";

    /// <summary>Weights uploaded so far (each checkpoint tensor once).</summary>
    public int UploadedWeights
    {
        get
        {
            lock (_lock) return _weights.Count;
        }
    }

    /// <inheritdoc/>
    public ComputeTensor Allocate(int rows, int cols)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        ArgumentOutOfRangeException.ThrowIfNegative(cols);
        lock (_lock)
        {
            var storage = AllocateWithRetry<float>((long)rows * cols);
            storage.Clear();
            return new CudaTensor(storage, 0, cols, rows, cols);
        }
    }

    /// <inheritdoc/>
    public ComputeWeight Bind(WeightTensor weight)
    {
        ArgumentNullException.ThrowIfNull(weight);
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var key = ((object)weight.Tensor.File, weight.Name);
            if (_weights.TryGetValue(key, out var bound)) return bound;
            bound = CudaWeight.Upload(Context, weight);
            _weights[key] = bound;
            return bound;
        }
    }

    /// <inheritdoc/>
    public void Upload(ReadOnlySpan<float> source, ComputeTensor destination)
    {
        var d = CudaTensor.Of(destination);
        if (source.Length < (long)d.Rows * d.Cols) throw new ArgumentException($"{source.Length} values for a {d} tensor", nameof(source));
        lock (_lock)
        {
            if (d.IsContiguous) d.Storage.CopyFrom(source[..(d.Rows * d.Cols)], d.Offset);
            else
                for (var r = 0; r < d.Rows; r++) d.Storage.CopyFrom(source.Slice(r * d.Cols, d.Cols), d.Offset + (long)r * d.Stride);
        }
    }

    /// <inheritdoc/>
    public void Download(ComputeTensor source, Span<float> destination)
    {
        var s = CudaTensor.Of(source);
        if (destination.Length < (long)s.Rows * s.Cols) throw new ArgumentException($"{destination.Length} values for a {s} tensor", nameof(destination));
        lock (_lock)
        {
            if (s.IsContiguous) s.Storage.CopyTo(destination[..(s.Rows * s.Cols)], s.Offset);
            else
                for (var r = 0; r < s.Rows; r++) s.Storage.CopyTo(destination.Slice(r * s.Cols, s.Cols), s.Offset + (long)r * s.Stride);
        }
    }

    /// <summary>Waits for every queued kernel (a kernel fault surfaces here as a <see cref="CudaException"/>).</summary>
    public void Synchronize()
    {
        lock (_lock) Context.Synchronize();
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed) return;
            _disposed = true;
            foreach (var w in _weights.Values) w.Dispose();
            _weights.Clear();
            foreach (var b in _ropeBuffers) b.Dispose();
            _ropeBuffers.Clear();
            _ints?.Dispose();
            _floats?.Dispose();
            _scratchA?.Dispose();
            _scratchB?.Dispose();
            _codes?.Dispose();
            _kernels.Dispose();
            Context.Dispose();
        }
    }

    private DeviceBuffer<T> AllocateWithRetry<T>(long length) where T : unmanaged
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        try
        {
            return Context.Allocate<T>(length);
        }
        catch (CudaException e) when (e.Result == CuResult.OutOfMemory)
        {
            // Activation tensors die with the GC; give finalisers one chance to return their device memory.
            GC.Collect();
            GC.WaitForPendingFinalizers();
            return Context.Allocate<T>(length);
        }
    }

    /// <summary>A scratch buffer of at least <paramref name="length"/> elements, grown (never shrunk) as needed.</summary>
    private DeviceBuffer<T> Scratch<T>(ref DeviceBuffer<T>? buffer, long length) where T : unmanaged
    {
        if (buffer is null || buffer.Length < length)
        {
            buffer?.Dispose();
            buffer = AllocateWithRetry<T>(Math.Max(length, 1024));
        }
        return buffer;
    }

    /// <summary>Copies host ints into the index scratch buffer and returns its device address.</summary>
    private ulong UploadInts(ReadOnlySpan<int> values)
    {
        var b = Scratch(ref _ints, values.Length);
        b.CopyFrom(values);
        return b.Pointer;
    }

    private ulong UploadFloats(ReadOnlySpan<float> values)
    {
        var b = Scratch(ref _floats, values.Length);
        b.CopyFrom(values);
        return b.Pointer;
    }

    private KernelArguments Args()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        _args.Clear();
        return _args;
    }

    private void Launch(KernelKey key, LaunchDims grid, LaunchDims block, KernelArguments args) =>
        _kernels.Get(key).Launch(grid, block, args);

    /// <summary>A 1-D launch over <paramref name="count"/> elements.</summary>
    private void Launch1D(KernelKey key, long count, KernelArguments args)
    {
        if (count == 0) return;
        Launch(key, new LaunchDims(checked((uint)((count + Threads1D - 1) / Threads1D))), Threads1D, args);
    }

    private static void CheckSameShape(CudaTensor a, CudaTensor b)
    {
        if (a.Rows != b.Rows || a.Cols != b.Cols) throw new ArgumentException($"shape mismatch: {a} vs {b}");
    }

    private sealed record RopeTables(DeviceBuffer<float> Cos, DeviceBuffer<float> Sin);
}
