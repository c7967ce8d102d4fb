using System.Runtime.CompilerServices;

namespace DeepSeek.Interop.Cuda;

/// <summary>
/// Typed device memory: <see cref="Length"/> elements of <typeparamref name="T"/>. Synchronous copies go straight
/// from/to the caller's span (pinned for the duration of the call, no staging copy); asynchronous copies need
/// <see cref="PinnedHostBuffer{T}"/>, whose memory stays valid until the stream has run them.
/// </summary>
public sealed unsafe class DeviceBuffer<T> : IDisposable where T : unmanaged
{
    private readonly CudaContext _context;
    private readonly CudaDeviceMemoryHandle? _handle;

    internal DeviceBuffer(CudaContext context, CudaDeviceMemoryHandle? handle, long length)
    {
        _context = context;
        _handle = handle;
        Length = length;
    }

    /// <summary>Elements.</summary>
    public long Length { get; }

    /// <summary>Bytes.</summary>
    public long ByteLength => Length * sizeof(T);

    /// <summary>The allocation's handle (null for an empty buffer).</summary>
    public CudaDeviceMemoryHandle? Handle => _handle;

    /// <summary>Device address of element 0 (0 for an empty buffer).</summary>
    /// <exception cref="ObjectDisposedException">The buffer was disposed.</exception>
    public ulong Pointer => _handle is null ? 0 : (ulong)_handle.Value;

    /// <summary>Device address of element <paramref name="index"/> (≤ Length).</summary>
    public ulong PointerAt(long index)
    {
        if ((ulong)index > (ulong)Length) throw new ArgumentOutOfRangeException(nameof(index), $"element {index} outside [0, {Length}]");
        return Pointer + (ulong)(index * sizeof(T));
    }

    /// <summary>Copies <paramref name="source"/> into elements [offset, offset + source.Length) (synchronous).</summary>
    public void CopyFrom(ReadOnlySpan<T> source, long offset = 0)
    {
        CheckRange(offset, source.Length);
        if (source.IsEmpty) return;
        _context.MakeCurrent();
        fixed (T* p = source)
            _context.Driver.Check(_context.Driver.MemcpyHtoD(PointerAt(offset), (nint)p, (nuint)(source.Length * sizeof(T))), "cuMemcpyHtoD_v2", Describe(offset, source.Length));
    }

    /// <summary>Copies elements [offset, offset + destination.Length) into <paramref name="destination"/> (synchronous).</summary>
    public void CopyTo(Span<T> destination, long offset = 0)
    {
        CheckRange(offset, destination.Length);
        if (destination.IsEmpty) return;
        _context.MakeCurrent();
        fixed (T* p = destination)
            _context.Driver.Check(_context.Driver.MemcpyDtoH((nint)p, PointerAt(offset), (nuint)(destination.Length * sizeof(T))), "cuMemcpyDtoH_v2", Describe(offset, destination.Length));
    }

    /// <summary>Queues a copy of all of <paramref name="source"/> into elements [offset, …) on <paramref name="stream"/>.</summary>
    public void CopyFromAsync(PinnedHostBuffer<T> source, CudaStream stream, long offset = 0)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(stream);
        CheckRange(offset, source.Length);
        if (source.Length == 0) return;
        _context.MakeCurrent();
        _context.Driver.Check(_context.Driver.MemcpyHtoDAsync(PointerAt(offset), source.Pointer, (nuint)(source.Length * sizeof(T)), stream.Handle.Value),
            "cuMemcpyHtoDAsync_v2", Describe(offset, source.Length));
    }

    /// <summary>Queues a copy of elements [offset, offset + destination.Length) into <paramref name="destination"/> on <paramref name="stream"/>.</summary>
    public void CopyToAsync(PinnedHostBuffer<T> destination, CudaStream stream, long offset = 0)
    {
        ArgumentNullException.ThrowIfNull(destination);
        ArgumentNullException.ThrowIfNull(stream);
        CheckRange(offset, destination.Length);
        if (destination.Length == 0) return;
        _context.MakeCurrent();
        _context.Driver.Check(_context.Driver.MemcpyDtoHAsync(destination.Pointer, PointerAt(offset), (nuint)(destination.Length * sizeof(T)), stream.Handle.Value),
            "cuMemcpyDtoHAsync_v2", Describe(offset, destination.Length));
    }

    /// <summary>Sets every byte to zero.</summary>
    public void Clear()
    {
        if (Length == 0) return;
        _context.MakeCurrent();
        _context.Driver.Check(_context.Driver.MemsetD8(Pointer, 0, (nuint)ByteLength), "cuMemsetD8_v2", Describe(0, Length));
    }

    /// <summary>Frees the device memory (once; later calls do nothing).</summary>
    public void Dispose() => _handle?.Dispose();

    private void CheckRange(long offset, long count)
    {
        if (offset < 0 || offset > Length || count > Length - offset)
            throw new ArgumentOutOfRangeException(nameof(offset), $"elements [{offset}, {offset + count}) outside the device buffer's [0, {Length})");
    }

    private string Describe(long offset, long count) =>
        $"{count * Unsafe.SizeOf<T>():N0} bytes at element {offset} of a {Length}-element {typeof(T).Name} buffer" +
        (_context.LastLaunch is null ? "" : $"; last kernel launched: {_context.LastLaunch}");
}
