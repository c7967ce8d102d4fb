using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using DeepSeek.Interop.Cuda;

namespace DeepSeek.Interop.Tests.Cuda;

/// <summary>
/// An <see cref="ICudaDriver"/> without a GPU: "device" memory is host memory (so copies really copy and out-of-range
/// addresses are caught), modules are parsed PTX (unknown kernels are CUDA_ERROR_NOT_FOUND), launches are recorded
/// with the argument bytes the driver would have read, every create/destroy is counted, and any call can be made to fail.
/// Thread-safe, since SafeHandle finalisers call it from the GC's thread.
/// </summary>
internal sealed unsafe class FakeCudaDriver : ICudaDriver, IDisposable
{
    private readonly Dictionary<ulong, long> _device = [];
    private readonly Dictionary<nint, long> _host = [];
    private readonly Dictionary<nint, IReadOnlyDictionary<string, PtxEntry>> _modules = [];
    private readonly Dictionary<nint, (string Name, PtxEntry Entry)> _functions = [];
    private readonly HashSet<nint> _streams = [];
    private readonly HashSet<nint> _events = [];
    private nint _next = 0x1000;

    public List<string> Calls { get; } = [];
    public List<Launch> Launches { get; } = [];
    public Dictionary<string, CuResult> Failures { get; } = [];
    public int ComputeCapability { get; set; } = 90;
    public int DeviceCount { get; set; } = 1;
    public long MemoryLimit { get; set; } = long.MaxValue;
    public long DeviceBytesInUse { get; private set; }
    public int Retains { get; private set; }
    public int Releases { get; private set; }
    public int BadFrees { get; private set; }
    public int BadCopies { get; private set; }
    public int BadLaunchPointers { get; private set; }
    public nint Current { get; private set; }
    /// <summary>Runs a launch (kernel name, grid, block, the driver's void** arguments); null records it only.</summary>
    public Func<string, uint[], uint[], nint, CuResult>? Execute { get; set; }
    public string JitErrorLog { get; set; } = "ptxas application ptx input, line 7; error   : Unknown symbol 'oops'";

    public int LiveDevice => _device.Count;
    public int LiveHost => _host.Count;
    public int LiveModules => _modules.Count;
    public int LiveStreams => _streams.Count;
    public int LiveEvents => _events.Count;

    public sealed record Launch(string Kernel, uint[] Grid, uint[] Block, byte[][] Arguments);

    [MethodImpl(MethodImplOptions.Synchronized)]   // finalisers release handles from the GC thread
    private CuResult Call(string name)
    {
        Calls.Add(name);
        return Failures.TryGetValue(name, out var r) ? r : CuResult.Success;
    }

    private nint NewHandle() => _next += 0x10;

    [MethodImpl(MethodImplOptions.Synchronized)]   // finalisers release handles from the GC thread
    public CuResult Init(uint flags) => Call("cuInit");

    [MethodImpl(MethodImplOptions.Synchronized)]   // finalisers release handles from the GC thread
    public CuResult DriverGetVersion(out int version)
    {
        version = 12040;
        return Call("cuDriverGetVersion");
    }

    [MethodImpl(MethodImplOptions.Synchronized)]   // finalisers release handles from the GC thread
    public CuResult DeviceGetCount(out int count)
    {
        count = DeviceCount;
        return Call("cuDeviceGetCount");
    }

    [MethodImpl(MethodImplOptions.Synchronized)]   // finalisers release handles from the GC thread
    public CuResult DeviceGet(out int device, int ordinal)
    {
        device = ordinal;
        return Call("cuDeviceGet");
    }

    [MethodImpl(MethodImplOptions.Synchronized)]   // finalisers release handles from the GC thread
    public CuResult DeviceGetName(Span<byte> name, int device)
    {
        Encoding.ASCII.GetBytes("Fake GPU\0").CopyTo(name);
        return Call("cuDeviceGetName");
    }

    [MethodImpl(MethodImplOptions.Synchronized)]   // finalisers release handles from the GC thread
    public CuResult DeviceGetAttribute(out int value, CuDeviceAttribute attribute, int device)
    {
        value = attribute switch
        {
            CuDeviceAttribute.ComputeCapabilityMajor => ComputeCapability / 10,
            CuDeviceAttribute.ComputeCapabilityMinor => ComputeCapability % 10,
            CuDeviceAttribute.MultiprocessorCount => 132,
            _ => 1,
        };
        return Call("cuDeviceGetAttribute");
    }

    [MethodImpl(MethodImplOptions.Synchronized)]   // finalisers release handles from the GC thread
    public CuResult DeviceTotalMem(out nuint bytes, int device)
    {
        bytes = unchecked((nuint)(80UL << 30));
        return Call("cuDeviceTotalMem_v2");
    }

    [MethodImpl(MethodImplOptions.Synchronized)]   // finalisers release handles from the GC thread
    public CuResult DevicePrimaryCtxRetain(out nint context, int device)
    {
        context = 0x7000 + device;
        var r = Call("cuDevicePrimaryCtxRetain");
        if (r == CuResult.Success) Retains++;
        return r;
    }

    [MethodImpl(MethodImplOptions.Synchronized)]   // finalisers release handles from the GC thread
    public CuResult DevicePrimaryCtxRelease(int device)
    {
        Releases++;
        return Call("cuDevicePrimaryCtxRelease_v2");
    }

    [MethodImpl(MethodImplOptions.Synchronized)]   // finalisers release handles from the GC thread
    public CuResult CtxSetCurrent(nint context)
    {
        Current = context;
        var r = Call("cuCtxSetCurrent");
        return r != CuResult.Success ? r : Retains > Releases ? CuResult.Success : CuResult.InvalidContext;
    }

    [MethodImpl(MethodImplOptions.Synchronized)]   // finalisers release handles from the GC thread
    public CuResult CtxSynchronize() => Call("cuCtxSynchronize");

    [MethodImpl(MethodImplOptions.Synchronized)]   // finalisers release handles from the GC thread
    public CuResult MemGetInfo(out nuint free, out nuint total)
    {
        total = (nuint)Math.Min(MemoryLimit, 1L << 40);
        free = total - (nuint)Math.Min(DeviceBytesInUse, (long)total);
        return Call("cuMemGetInfo_v2");
    }

    [MethodImpl(MethodImplOptions.Synchronized)]   // finalisers release handles from the GC thread
    public CuResult ModuleLoadDataEx(out nint module, nint image, uint count, nint options, nint optionValues)
    {
        module = 0;
        var r = Call("cuModuleLoadDataEx");
        if (r != CuResult.Success) return r;
        var text = Marshal.PtrToStringUTF8(image)!;
        if (text.Contains("FAIL_JIT", StringComparison.Ordinal))
        {
            // Write the error log where the caller's CU_JIT_ERROR_LOG_BUFFER option points, within its stated size.
            var opts = (int*)options;
            var values = (nint*)optionValues;
            nint buffer = 0;
            long size = 0;
            for (var i = 0; i < count; i++)
            {
                if (opts[i] == 5) buffer = values[i];
                if (opts[i] == 6) size = values[i];
            }
            var bytes = Encoding.UTF8.GetBytes(JitErrorLog + "\0");
            if (buffer != 0 && bytes.Length <= size) Marshal.Copy(bytes, 0, buffer, bytes.Length);
            return CuResult.InvalidPtx;
        }
        module = NewHandle();
        _modules[module] = PtxEntryPoints.Parse(text);
        return CuResult.Success;
    }

    [MethodImpl(MethodImplOptions.Synchronized)]   // finalisers release handles from the GC thread
    public CuResult ModuleUnload(nint module)
    {
        Calls.Add("cuModuleUnload");
        return _modules.Remove(module) ? CuResult.Success : CuResult.InvalidHandle;
    }

    [MethodImpl(MethodImplOptions.Synchronized)]   // finalisers release handles from the GC thread
    public CuResult ModuleGetFunction(out nint function, nint module, nint name)
    {
        function = 0;
        var r = Call("cuModuleGetFunction");
        if (r != CuResult.Success) return r;
        var entry = Marshal.PtrToStringUTF8(name)!;
        if (!_modules.TryGetValue(module, out var entries)) return CuResult.InvalidHandle;
        if (!entries.TryGetValue(entry, out var signature)) return CuResult.NotFound;
        function = NewHandle();
        _functions[function] = (entry, signature);
        return CuResult.Success;
    }

    [MethodImpl(MethodImplOptions.Synchronized)]   // finalisers release handles from the GC thread
    public CuResult LaunchKernel(nint function, uint gridX, uint gridY, uint gridZ, uint blockX, uint blockY, uint blockZ, uint sharedBytes, nint stream, nint kernelParams, nint extra)
    {
        var r = Call("cuLaunchKernel");
        if (!_functions.TryGetValue(function, out var f)) return CuResult.InvalidHandle;
        var pointers = (nint*)kernelParams;
        var args = new byte[f.Entry.Parameters.Count][];
        for (var i = 0; i < args.Length; i++)
        {
            args[i] = new byte[f.Entry.Parameters[i].Size];
            Marshal.Copy(pointers[i], args[i], 0, args[i].Length);
            // A 64-bit argument above 4 GiB is an address (strides and sizes are small): it must lie in live device memory.
            if (args[i].Length == 8 && BitConverter.ToUInt64(args[i]) is var v && v >= 1UL << 32 && !InDevice(v, 1)) BadLaunchPointers++;
        }
        Launches.Add(new Launch(f.Name, [gridX, gridY, gridZ], [blockX, blockY, blockZ], args));
        if (r == CuResult.Success && Execute is not null) r = Execute(f.Name, [gridX, gridY, gridZ], [blockX, blockY, blockZ], kernelParams);
        return r;
    }

    [MethodImpl(MethodImplOptions.Synchronized)]   // finalisers release handles from the GC thread
    public CuResult MemAlloc(out ulong pointer, nuint bytes)
    {
        pointer = 0;
        var r = Call("cuMemAlloc_v2");
        if (r != CuResult.Success) return r;
        if (DeviceBytesInUse + (long)bytes > MemoryLimit) return CuResult.OutOfMemory;
        pointer = (ulong)NativeMemory.AllocZeroed(bytes);
        _device[pointer] = (long)bytes;
        DeviceBytesInUse += (long)bytes;
        return CuResult.Success;
    }

    [MethodImpl(MethodImplOptions.Synchronized)]   // finalisers release handles from the GC thread
    public CuResult MemFree(ulong pointer)
    {
        Calls.Add("cuMemFree_v2");
        if (!_device.Remove(pointer, out var bytes))
        {
            BadFrees++;
            return CuResult.InvalidValue;
        }
        DeviceBytesInUse -= bytes;
        NativeMemory.Free((void*)pointer);
        return CuResult.Success;
    }

    [MethodImpl(MethodImplOptions.Synchronized)]   // finalisers release handles from the GC thread
    public CuResult MemHostAlloc(out nint pointer, nuint bytes, uint flags)
    {
        pointer = 0;
        var r = Call("cuMemHostAlloc");
        if (r != CuResult.Success) return r;
        pointer = (nint)NativeMemory.AllocZeroed(bytes);
        _host[pointer] = (long)bytes;
        return CuResult.Success;
    }

    [MethodImpl(MethodImplOptions.Synchronized)]   // finalisers release handles from the GC thread
    public CuResult MemFreeHost(nint pointer)
    {
        Calls.Add("cuMemFreeHost");
        if (!_host.Remove(pointer))
        {
            BadFrees++;
            return CuResult.InvalidValue;
        }
        NativeMemory.Free((void*)pointer);
        return CuResult.Success;
    }

    /// <summary>True when [address, address + bytes) lies inside one live device allocation.</summary>
    [MethodImpl(MethodImplOptions.Synchronized)]   // finalisers release handles from the GC thread
    public bool InDevice(ulong address, ulong bytes) => _device.Any(a => address >= a.Key && address + bytes <= a.Key + (ulong)a.Value);

    [MethodImpl(MethodImplOptions.Synchronized)]   // finalisers release handles from the GC thread
    private CuResult Copy(string call, nint destination, nint source, nuint bytes, ulong device)
    {
        var r = Call(call);
        if (r != CuResult.Success) return r;
        if (!InDevice(device, bytes))
        {
            BadCopies++;
            return CuResult.InvalidValue;
        }
        Buffer.MemoryCopy((void*)source, (void*)destination, (long)bytes, (long)bytes);
        return CuResult.Success;
    }

    [MethodImpl(MethodImplOptions.Synchronized)]   // finalisers release handles from the GC thread
    public CuResult MemcpyHtoD(ulong destination, nint source, nuint bytes) => Copy("cuMemcpyHtoD_v2", (nint)destination, source, bytes, destination);

    [MethodImpl(MethodImplOptions.Synchronized)]   // finalisers release handles from the GC thread
    public CuResult MemcpyDtoH(nint destination, ulong source, nuint bytes) => Copy("cuMemcpyDtoH_v2", destination, (nint)source, bytes, source);

    [MethodImpl(MethodImplOptions.Synchronized)]   // finalisers release handles from the GC thread
    public CuResult MemcpyDtoD(ulong destination, ulong source, nuint bytes) =>
        InDevice(source, bytes) ? Copy("cuMemcpyDtoD_v2", (nint)destination, (nint)source, bytes, destination) : CuResult.InvalidValue;

    [MethodImpl(MethodImplOptions.Synchronized)]   // finalisers release handles from the GC thread
    public CuResult MemcpyHtoDAsync(ulong destination, nint source, nuint bytes, nint stream) =>
        _streams.Contains(stream) || stream == 0 ? Copy("cuMemcpyHtoDAsync_v2", (nint)destination, source, bytes, destination) : CuResult.InvalidHandle;

    [MethodImpl(MethodImplOptions.Synchronized)]   // finalisers release handles from the GC thread
    public CuResult MemcpyDtoHAsync(nint destination, ulong source, nuint bytes, nint stream) =>
        _streams.Contains(stream) || stream == 0 ? Copy("cuMemcpyDtoHAsync_v2", destination, (nint)source, bytes, source) : CuResult.InvalidHandle;

    [MethodImpl(MethodImplOptions.Synchronized)]   // finalisers release handles from the GC thread
    public CuResult MemsetD8(ulong destination, byte value, nuint count)
    {
        var r = Call("cuMemsetD8_v2");
        if (r != CuResult.Success) return r;
        if (!InDevice(destination, count))
        {
            BadCopies++;
            return CuResult.InvalidValue;
        }
        new Span<byte>((void*)destination, checked((int)count)).Fill(value);
        return CuResult.Success;
    }

    [MethodImpl(MethodImplOptions.Synchronized)]   // finalisers release handles from the GC thread
    public CuResult StreamCreate(out nint stream, uint flags)
    {
        stream = NewHandle();
        _streams.Add(stream);
        return Call("cuStreamCreate");
    }

    [MethodImpl(MethodImplOptions.Synchronized)]   // finalisers release handles from the GC thread
    public CuResult StreamDestroy(nint stream)
    {
        Calls.Add("cuStreamDestroy_v2");
        if (_streams.Remove(stream)) return CuResult.Success;
        BadFrees++;
        return CuResult.InvalidHandle;
    }

    [MethodImpl(MethodImplOptions.Synchronized)]   // finalisers release handles from the GC thread
    public CuResult StreamSynchronize(nint stream) => Call("cuStreamSynchronize");

    [MethodImpl(MethodImplOptions.Synchronized)]   // finalisers release handles from the GC thread
    public CuResult EventCreate(out nint evt, uint flags)
    {
        evt = NewHandle();
        _events.Add(evt);
        return Call("cuEventCreate");
    }

    [MethodImpl(MethodImplOptions.Synchronized)]   // finalisers release handles from the GC thread
    public CuResult EventDestroy(nint evt)
    {
        Calls.Add("cuEventDestroy_v2");
        if (_events.Remove(evt)) return CuResult.Success;
        BadFrees++;
        return CuResult.InvalidHandle;
    }

    [MethodImpl(MethodImplOptions.Synchronized)]   // finalisers release handles from the GC thread
    public CuResult EventRecord(nint evt, nint stream) => Call("cuEventRecord");

    [MethodImpl(MethodImplOptions.Synchronized)]   // finalisers release handles from the GC thread
    public CuResult EventSynchronize(nint evt) => Call("cuEventSynchronize");

    [MethodImpl(MethodImplOptions.Synchronized)]   // finalisers release handles from the GC thread
    public CuResult EventElapsedTime(out float milliseconds, nint start, nint end)
    {
        milliseconds = 1.5f;
        return Call("cuEventElapsedTime");
    }

    public string? GetErrorName(CuResult result) => result switch
    {
        CuResult.OutOfMemory => "CUDA_ERROR_OUT_OF_MEMORY",
        CuResult.InvalidPtx => "CUDA_ERROR_INVALID_PTX",
        CuResult.NoDevice => "CUDA_ERROR_NO_DEVICE",
        CuResult.IllegalAddress => "CUDA_ERROR_ILLEGAL_ADDRESS",
        CuResult.NotFound => "CUDA_ERROR_NOT_FOUND",
        _ => null,
    };

    public string? GetErrorString(CuResult result) => result switch
    {
        CuResult.OutOfMemory => "out of memory",
        CuResult.InvalidPtx => "a PTX JIT compilation failed",
        CuResult.NoDevice => "no CUDA-capable device is detected",
        CuResult.IllegalAddress => "an illegal memory access was encountered",
        CuResult.NotFound => "named symbol not found",
        _ => null,
    };

    [MethodImpl(MethodImplOptions.Synchronized)]   // finalisers release handles from the GC thread
    public void Dispose()
    {
        foreach (var p in _device.Keys) NativeMemory.Free((void*)p);
        foreach (var p in _host.Keys) NativeMemory.Free((void*)p);
        _device.Clear();
        _host.Clear();
    }
}
