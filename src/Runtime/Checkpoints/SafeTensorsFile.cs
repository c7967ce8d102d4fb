using System.IO.MemoryMappedFiles;
using DeepSeek.Runtime.Tensors;

namespace DeepSeek.Runtime.Checkpoints;

/// <summary>
/// One <c>.safetensors</c> file, memory-mapped read-only. Opening reads and validates only the header; tensor
/// bytes are touched when (and where) a caller reads a view, so a multi-GB shard opens in milliseconds with no
/// resident memory proportional to its size. Views stay valid until the file is disposed.
/// </summary>
public sealed unsafe class SafeTensorsFile : IDisposable
{
    private readonly MemoryMappedFile _map;
    private readonly MemoryMappedViewAccessor _view;
    private readonly byte* _base;
    private readonly Dictionary<string, SafeTensorInfo> _byName;
    private int _disposed;

    private SafeTensorsFile(string path, long length, MemoryMappedFile map, MemoryMappedViewAccessor view, byte* basePtr,
        List<SafeTensorInfo> tensors, Dictionary<string, string> metadata)
    {
        Path = path;
        Length = length;
        _map = map;
        _view = view;
        _base = basePtr;
        Tensors = tensors;
        Metadata = metadata;
        _byName = tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
    }

    /// <summary>Full path of the file.</summary>
    public string Path { get; }

    /// <summary>File length in bytes.</summary>
    public long Length { get; }

    /// <summary>Tensors in header order.</summary>
    public IReadOnlyList<SafeTensorInfo> Tensors { get; }

    /// <summary>The header's <c>__metadata__</c> strings (empty when absent).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Maps <paramref name="path"/> and validates its header.</summary>
    /// <exception cref="CheckpointFormatException">The file is missing, unreadable or damaged; the message names file, tensor and byte offset.</exception>
    public static SafeTensorsFile Open(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var full = System.IO.Path.GetFullPath(path);
        long length;
        try
        {
            length = new FileInfo(full).Length;
        }
        catch (FileNotFoundException e)
        {
            throw new CheckpointFormatException("file not found", full, inner: e);
        }
        catch (IOException e)
        {
            throw new CheckpointFormatException($"cannot read file: {e.Message}", full, inner: e);
        }
        if (length < 8)
            throw new CheckpointFormatException($"file is {length} bytes, too short for the 8-byte header length", full, offset: 0);

        MemoryMappedFile? map = null;
        MemoryMappedViewAccessor? view = null;
        var acquired = false;
        try
        {
            map = MemoryMappedFile.CreateFromFile(full, FileMode.Open, mapName: null, 0, MemoryMappedFileAccess.Read);
            view = map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
            byte* p = null;
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
            acquired = true;
            p += view.PointerOffset;

            var headerLength = SafeTensorsHeader.ReadLength(new ReadOnlySpan<byte>(p, 8), length, full);
            var json = new ReadOnlySpan<byte>(p + 8, checked((int)headerLength));
            var (tensors, metadata) = SafeTensorsHeader.Parse(json, length - 8 - headerLength, full);
            return new SafeTensorsFile(full, length, map, view, p, tensors, metadata);
        }
        catch (Exception e) when (e is not CheckpointFormatException)
        {
            Release(map, view, acquired);
            throw e is IOException or UnauthorizedAccessException
                ? new CheckpointFormatException($"cannot map file: {e.Message}", full, inner: e)
                : e;
        }
        catch
        {
            Release(map, view, acquired);
            throw;
        }
    }

    /// <summary>True when the file holds a tensor named <paramref name="name"/>.</summary>
    public bool Contains(string name) => _byName.ContainsKey(name);

    /// <summary>The header entry of <paramref name="name"/>.</summary>
    /// <exception cref="KeyNotFoundException">No such tensor in this file.</exception>
    public SafeTensorInfo GetInfo(string name) =>
        _byName.TryGetValue(name, out var info) ? info : throw new KeyNotFoundException($"tensor '{name}' is not in '{Path}'");

    /// <summary>Tries to get the header entry of <paramref name="name"/>.</summary>
    public bool TryGetInfo(string name, out SafeTensorInfo info) => _byName.TryGetValue(name, out info!);

    /// <summary>
    /// A zero-copy view of <paramref name="name"/> as elements of <typeparamref name="T"/>, which must have the stored
    /// dtype's size (<see cref="float"/> for F32, <see cref="ushort"/> or <see cref="Half"/> for BF16/F16 bits,
    /// <see cref="byte"/> for F8_E4M3 codes).
    /// </summary>
    public TensorView<T> GetView<T>(string name) where T : unmanaged
    {
        var info = GetInfo(name);
        if (sizeof(T) != info.DType.SizeOf())
            throw new InvalidOperationException($"tensor '{name}' is {info.DType} ({info.DType.SizeOf()} bytes per element); cannot view it as {typeof(T).Name} ({sizeof(T)} bytes)");
        return new TensorView<T>((T*)Address(info), info.Shape, this);
    }

    /// <summary>The raw bytes of <paramref name="name"/> (tensors under 2 GiB).</summary>
    public ReadOnlySpan<byte> GetBytes(string name)
    {
        var info = GetInfo(name);
        if (info.ByteLength > int.MaxValue)
            throw new InvalidOperationException($"tensor '{name}' is {info.ByteLength} bytes, too large for one span; use GetView and slice it");
        return new ReadOnlySpan<byte>(Address(info), (int)info.ByteLength);
    }

    /// <summary>Address of a tensor's first byte, for kernels that decode any dtype themselves.</summary>
    internal byte* DataPointer(string name) => Address(GetInfo(name));

    private byte* Address(SafeTensorInfo info)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        return _base + info.FileOffset;
    }

    /// <summary>Unmaps the file. Views obtained from it must no longer be used.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        Release(_map, _view, acquired: true);
    }

    private static void Release(MemoryMappedFile? map, MemoryMappedViewAccessor? view, bool acquired)
    {
        if (acquired) view?.SafeMemoryMappedViewHandle.ReleasePointer();
        view?.Dispose();
        map?.Dispose();
    }

    /// <inheritdoc/>
    public override string ToString() => $"{System.IO.Path.GetFileName(Path)} ({Tensors.Count} tensors, {Length} bytes)";
}
