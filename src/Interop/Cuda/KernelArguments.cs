using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace DeepSeek.Interop.Cuda;

/// <summary>
/// Builds a kernel's argument list the way <c>cuLaunchKernel</c> takes it: each value stored at an offset aligned to
/// its size in one buffer, and a <c>void*[]</c> of their addresses, built over the pinned buffer only for the call
/// (the driver copies the values at launch). Sizes are checked against the PTX signature before launching.
/// </summary>
public sealed class KernelArguments
{
    private byte[] _values = new byte[128];
    private readonly List<int> _offsets = [];
    private readonly List<int> _sizes = [];

    /// <summary>Byte offset of each argument in the value buffer.</summary>
    public IReadOnlyList<int> Offsets => _offsets;

    /// <summary>Byte size of each argument.</summary>
    public IReadOnlyList<int> Sizes => _sizes;

    /// <summary>Arguments added.</summary>
    public int Count => _offsets.Count;

    /// <summary>Bytes of the value buffer in use.</summary>
    public int Size { get; private set; }

    /// <summary>The value bytes (for inspection).</summary>
    public ReadOnlySpan<byte> Values => _values.AsSpan(0, Size);

    /// <summary>Adds a 32-bit signed integer (<c>int</c>, PTX <c>.u32/.s32</c>).</summary>
    public KernelArguments Add(int value) => Put(value);

    /// <summary>Adds a 32-bit unsigned integer.</summary>
    public KernelArguments Add(uint value) => Put(value);

    /// <summary>Adds a 64-bit integer (<c>long long</c>).</summary>
    public KernelArguments Add(long value) => Put(value);

    /// <summary>Adds a float.</summary>
    public KernelArguments Add(float value) => Put(value);

    /// <summary>Adds a device pointer (<c>T*</c> in the kernel; 0 for null).</summary>
    public KernelArguments AddPointer(ulong devicePointer) => Put(devicePointer);

    /// <summary>Adds a pointer to element <paramref name="offset"/> of <paramref name="buffer"/>.</summary>
    public KernelArguments Add<T>(DeviceBuffer<T> buffer, long offset = 0) where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(buffer);
        return Put(buffer.PointerAt(offset));
    }

    /// <summary>Clears the list for reuse.</summary>
    public void Clear()
    {
        _offsets.Clear();
        _sizes.Clear();
        Size = 0;
    }

    /// <summary>Checks count and sizes against the kernel's PTX parameters.</summary>
    /// <exception cref="ArgumentException">They differ; the message lists both.</exception>
    public void Validate(PtxEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        var ok = entry.Parameters.Count == Count;
        for (var i = 0; ok && i < Count; i++) ok = entry.Parameters[i].Size == _sizes[i];
        if (!ok)
            throw new ArgumentException($"kernel '{entry.Name}' takes ({string.Join(", ", entry.Parameters.Select(p => p.Type))}) " +
                                        $"but was given {Count} argument(s) of ({string.Join(", ", _sizes.Select(s => $"{s} bytes"))})");
    }

    /// <summary>Runs <paramref name="launch"/> with the address of the <c>void*[]</c> argument array (valid only during the call).</summary>
    internal unsafe CuResult WithPointers(Func<nint, CuResult> launch)
    {
        var pointers = Count <= 64 ? stackalloc nint[Count] : new nint[Count];
        fixed (byte* values = _values)
        fixed (nint* array = pointers)
        {
            for (var i = 0; i < Count; i++) array[i] = (nint)(values + _offsets[i]);
            return launch((nint)array);
        }
    }

    private KernelArguments Put<T>(T value) where T : unmanaged
    {
        var size = Unsafe.SizeOf<T>();
        // Natural alignment, as the CUDA ABI lays out kernel parameters; byte[] data is 8-aligned on 64-bit runtimes.
        var offset = (Size + size - 1) / size * size;
        if (offset + size > _values.Length) Array.Resize(ref _values, Math.Max(_values.Length * 2, offset + size));
        MemoryMarshal.Write(_values.AsSpan(offset, size), in value);
        _offsets.Add(offset);
        _sizes.Add(size);
        Size = offset + size;
        return this;
    }
}
