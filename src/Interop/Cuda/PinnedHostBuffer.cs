namespace DeepSeek.Interop.Cuda;

/// <summary>Page-locked host memory from <c>cuMemHostAlloc</c>: the host side of asynchronous copies, viewed as a span.</summary>
public sealed unsafe class PinnedHostBuffer<T> : IDisposable where T : unmanaged
{
    private readonly CudaHostMemoryHandle? _handle;

    internal PinnedHostBuffer(CudaHostMemoryHandle? handle, int length)
    {
        _handle = handle;
        Length = length;
    }

    /// <summary>Elements.</summary>
    public int Length { get; }

    /// <summary>The allocation's handle (null for an empty buffer).</summary>
    public CudaHostMemoryHandle? Handle => _handle;

    internal nint Pointer => _handle?.Value ?? 0;

    /// <summary>The memory as a span (valid until disposed; do not write while an asynchronous copy from it is queued).</summary>
    public Span<T> Span => Length == 0 ? [] : new Span<T>((void*)Pointer, Length);

    /// <summary>Frees the memory (once).</summary>
    public void Dispose() => _handle?.Dispose();
}
