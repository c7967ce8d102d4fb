using System.Runtime.InteropServices;

namespace DeepSeek.Interop.Cuda;

/// <summary>
/// <see cref="ICudaDriver"/> over the real driver library: every entry point is resolved from
/// <see cref="CudaDriverLibrary.Handle"/> with <see cref="NativeLibrary.GetExport"/> into an unmanaged function
/// pointer, once, when the first CUDA object is created. Nothing here runs at assembly load or type initialisation,
/// so machines without a driver never touch libcuda unless they ask for the GPU.
/// </summary>
internal sealed unsafe class NativeCudaDriver : ICudaDriver
{
    private static readonly Lazy<NativeCudaDriver> s_shared = new(() => new NativeCudaDriver(CudaDriverLibrary.Handle), LazyThreadSafetyMode.ExecutionAndPublication);

    private readonly delegate* unmanaged<uint, CuResult> _init;
    private readonly delegate* unmanaged<int*, CuResult> _driverGetVersion;
    private readonly delegate* unmanaged<int*, CuResult> _deviceGetCount;
    private readonly delegate* unmanaged<int*, int, CuResult> _deviceGet;
    private readonly delegate* unmanaged<byte*, int, int, CuResult> _deviceGetName;
    private readonly delegate* unmanaged<int*, int, int, CuResult> _deviceGetAttribute;
    private readonly delegate* unmanaged<nuint*, int, CuResult> _deviceTotalMem;
    private readonly delegate* unmanaged<nint*, int, CuResult> _primaryCtxRetain;
    private readonly delegate* unmanaged<int, CuResult> _primaryCtxRelease;
    private readonly delegate* unmanaged<nint, CuResult> _ctxSetCurrent;
    private readonly delegate* unmanaged<CuResult> _ctxSynchronize;
    private readonly delegate* unmanaged<nuint*, nuint*, CuResult> _memGetInfo;
    private readonly delegate* unmanaged<nint*, nint, uint, nint, nint, CuResult> _moduleLoadDataEx;
    private readonly delegate* unmanaged<nint, CuResult> _moduleUnload;
    private readonly delegate* unmanaged<nint*, nint, nint, CuResult> _moduleGetFunction;
    private readonly delegate* unmanaged<nint, uint, uint, uint, uint, uint, uint, uint, nint, nint, nint, CuResult> _launchKernel;
    private readonly delegate* unmanaged<ulong*, nuint, CuResult> _memAlloc;
    private readonly delegate* unmanaged<ulong, CuResult> _memFree;
    private readonly delegate* unmanaged<nint*, nuint, uint, CuResult> _memHostAlloc;
    private readonly delegate* unmanaged<nint, CuResult> _memFreeHost;
    private readonly delegate* unmanaged<ulong, nint, nuint, CuResult> _memcpyHtoD;
    private readonly delegate* unmanaged<nint, ulong, nuint, CuResult> _memcpyDtoH;
    private readonly delegate* unmanaged<ulong, ulong, nuint, CuResult> _memcpyDtoD;
    private readonly delegate* unmanaged<ulong, nint, nuint, nint, CuResult> _memcpyHtoDAsync;
    private readonly delegate* unmanaged<nint, ulong, nuint, nint, CuResult> _memcpyDtoHAsync;
    private readonly delegate* unmanaged<ulong, byte, nuint, CuResult> _memsetD8;
    private readonly delegate* unmanaged<nint*, uint, CuResult> _streamCreate;
    private readonly delegate* unmanaged<nint, CuResult> _streamDestroy;
    private readonly delegate* unmanaged<nint, CuResult> _streamSynchronize;
    private readonly delegate* unmanaged<nint*, uint, CuResult> _eventCreate;
    private readonly delegate* unmanaged<nint, CuResult> _eventDestroy;
    private readonly delegate* unmanaged<nint, nint, CuResult> _eventRecord;
    private readonly delegate* unmanaged<nint, CuResult> _eventSynchronize;
    private readonly delegate* unmanaged<float*, nint, nint, CuResult> _eventElapsedTime;
    private readonly delegate* unmanaged<CuResult, byte**, CuResult> _getErrorName;
    private readonly delegate* unmanaged<CuResult, byte**, CuResult> _getErrorString;

    private NativeCudaDriver(nint library)
    {
        // The _v2 names are the ABI every driver since CUDA 4 exports under the unsuffixed macro names of cuda.h.
        _init = (delegate* unmanaged<uint, CuResult>)Export(library, "cuInit");
        _driverGetVersion = (delegate* unmanaged<int*, CuResult>)Export(library, "cuDriverGetVersion");
        _deviceGetCount = (delegate* unmanaged<int*, CuResult>)Export(library, "cuDeviceGetCount");
        _deviceGet = (delegate* unmanaged<int*, int, CuResult>)Export(library, "cuDeviceGet");
        _deviceGetName = (delegate* unmanaged<byte*, int, int, CuResult>)Export(library, "cuDeviceGetName");
        _deviceGetAttribute = (delegate* unmanaged<int*, int, int, CuResult>)Export(library, "cuDeviceGetAttribute");
        _deviceTotalMem = (delegate* unmanaged<nuint*, int, CuResult>)Export(library, "cuDeviceTotalMem_v2");
        _primaryCtxRetain = (delegate* unmanaged<nint*, int, CuResult>)Export(library, "cuDevicePrimaryCtxRetain");
        _primaryCtxRelease = (delegate* unmanaged<int, CuResult>)Export(library, "cuDevicePrimaryCtxRelease_v2");
        _ctxSetCurrent = (delegate* unmanaged<nint, CuResult>)Export(library, "cuCtxSetCurrent");
        _ctxSynchronize = (delegate* unmanaged<CuResult>)Export(library, "cuCtxSynchronize");
        _memGetInfo = (delegate* unmanaged<nuint*, nuint*, CuResult>)Export(library, "cuMemGetInfo_v2");
        _moduleLoadDataEx = (delegate* unmanaged<nint*, nint, uint, nint, nint, CuResult>)Export(library, "cuModuleLoadDataEx");
        _moduleUnload = (delegate* unmanaged<nint, CuResult>)Export(library, "cuModuleUnload");
        _moduleGetFunction = (delegate* unmanaged<nint*, nint, nint, CuResult>)Export(library, "cuModuleGetFunction");
        _launchKernel = (delegate* unmanaged<nint, uint, uint, uint, uint, uint, uint, uint, nint, nint, nint, CuResult>)Export(library, "cuLaunchKernel");
        _memAlloc = (delegate* unmanaged<ulong*, nuint, CuResult>)Export(library, "cuMemAlloc_v2");
        _memFree = (delegate* unmanaged<ulong, CuResult>)Export(library, "cuMemFree_v2");
        _memHostAlloc = (delegate* unmanaged<nint*, nuint, uint, CuResult>)Export(library, "cuMemHostAlloc");
        _memFreeHost = (delegate* unmanaged<nint, CuResult>)Export(library, "cuMemFreeHost");
        _memcpyHtoD = (delegate* unmanaged<ulong, nint, nuint, CuResult>)Export(library, "cuMemcpyHtoD_v2");
        _memcpyDtoH = (delegate* unmanaged<nint, ulong, nuint, CuResult>)Export(library, "cuMemcpyDtoH_v2");
        _memcpyDtoD = (delegate* unmanaged<ulong, ulong, nuint, CuResult>)Export(library, "cuMemcpyDtoD_v2");
        _memcpyHtoDAsync = (delegate* unmanaged<ulong, nint, nuint, nint, CuResult>)Export(library, "cuMemcpyHtoDAsync_v2");
        _memcpyDtoHAsync = (delegate* unmanaged<nint, ulong, nuint, nint, CuResult>)Export(library, "cuMemcpyDtoHAsync_v2");
        _memsetD8 = (delegate* unmanaged<ulong, byte, nuint, CuResult>)Export(library, "cuMemsetD8_v2");
        _streamCreate = (delegate* unmanaged<nint*, uint, CuResult>)Export(library, "cuStreamCreate");
        _streamDestroy = (delegate* unmanaged<nint, CuResult>)Export(library, "cuStreamDestroy_v2");
        _streamSynchronize = (delegate* unmanaged<nint, CuResult>)Export(library, "cuStreamSynchronize");
        _eventCreate = (delegate* unmanaged<nint*, uint, CuResult>)Export(library, "cuEventCreate");
        _eventDestroy = (delegate* unmanaged<nint, CuResult>)Export(library, "cuEventDestroy_v2");
        _eventRecord = (delegate* unmanaged<nint, nint, CuResult>)Export(library, "cuEventRecord");
        _eventSynchronize = (delegate* unmanaged<nint, CuResult>)Export(library, "cuEventSynchronize");
        _eventElapsedTime = (delegate* unmanaged<float*, nint, nint, CuResult>)Export(library, "cuEventElapsedTime");
        _getErrorName = (delegate* unmanaged<CuResult, byte**, CuResult>)Export(library, "cuGetErrorName");
        _getErrorString = (delegate* unmanaged<CuResult, byte**, CuResult>)Export(library, "cuGetErrorString");
    }

    /// <summary>The process-wide driver table.</summary>
    /// <exception cref="CudaUnavailableException">No NVIDIA driver, or one too old to export an entry point we need.</exception>
    public static NativeCudaDriver Shared => s_shared.Value;

    private static nint Export(nint library, string name) =>
        NativeLibrary.TryGetExport(library, name, out var address)
            ? address
            : throw new CudaUnavailableException($"No usable NVIDIA driver: the driver library does not export {name}; install a driver for CUDA 11.8 or newer (>= 520).");

    public CuResult Init(uint flags) => _init(flags);

    public CuResult DriverGetVersion(out int version)
    {
        int v;
        var r = _driverGetVersion(&v);
        version = v;
        return r;
    }

    public CuResult DeviceGetCount(out int count)
    {
        int c;
        var r = _deviceGetCount(&c);
        count = c;
        return r;
    }

    public CuResult DeviceGet(out int device, int ordinal)
    {
        int d;
        var r = _deviceGet(&d, ordinal);
        device = d;
        return r;
    }

    public CuResult DeviceGetName(Span<byte> name, int device)
    {
        fixed (byte* p = name) return _deviceGetName(p, name.Length, device);
    }

    public CuResult DeviceGetAttribute(out int value, CuDeviceAttribute attribute, int device)
    {
        int v;
        var r = _deviceGetAttribute(&v, (int)attribute, device);
        value = v;
        return r;
    }

    public CuResult DeviceTotalMem(out nuint bytes, int device)
    {
        nuint b;
        var r = _deviceTotalMem(&b, device);
        bytes = b;
        return r;
    }

    public CuResult DevicePrimaryCtxRetain(out nint context, int device)
    {
        nint c;
        var r = _primaryCtxRetain(&c, device);
        context = c;
        return r;
    }

    public CuResult DevicePrimaryCtxRelease(int device) => _primaryCtxRelease(device);

    public CuResult CtxSetCurrent(nint context) => _ctxSetCurrent(context);

    public CuResult CtxSynchronize() => _ctxSynchronize();

    public CuResult MemGetInfo(out nuint free, out nuint total)
    {
        nuint f, t;
        var r = _memGetInfo(&f, &t);
        free = f;
        total = t;
        return r;
    }

    public CuResult ModuleLoadDataEx(out nint module, nint image, uint count, nint options, nint optionValues)
    {
        nint m;
        var r = _moduleLoadDataEx(&m, image, count, options, optionValues);
        module = m;
        return r;
    }

    public CuResult ModuleUnload(nint module) => _moduleUnload(module);

    public CuResult ModuleGetFunction(out nint function, nint module, nint name)
    {
        nint f;
        var r = _moduleGetFunction(&f, module, name);
        function = f;
        return r;
    }

    public CuResult LaunchKernel(nint function, uint gridX, uint gridY, uint gridZ, uint blockX, uint blockY, uint blockZ, uint sharedBytes, nint stream, nint kernelParams, nint extra) =>
        _launchKernel(function, gridX, gridY, gridZ, blockX, blockY, blockZ, sharedBytes, stream, kernelParams, extra);

    public CuResult MemAlloc(out ulong pointer, nuint bytes)
    {
        ulong p;
        var r = _memAlloc(&p, bytes);
        pointer = p;
        return r;
    }

    public CuResult MemFree(ulong pointer) => _memFree(pointer);

    public CuResult MemHostAlloc(out nint pointer, nuint bytes, uint flags)
    {
        nint p;
        var r = _memHostAlloc(&p, bytes, flags);
        pointer = p;
        return r;
    }

    public CuResult MemFreeHost(nint pointer) => _memFreeHost(pointer);

    public CuResult MemcpyHtoD(ulong destination, nint source, nuint bytes) => _memcpyHtoD(destination, source, bytes);

    public CuResult MemcpyDtoH(nint destination, ulong source, nuint bytes) => _memcpyDtoH(destination, source, bytes);

    public CuResult MemcpyDtoD(ulong destination, ulong source, nuint bytes) => _memcpyDtoD(destination, source, bytes);

    public CuResult MemcpyHtoDAsync(ulong destination, nint source, nuint bytes, nint stream) => _memcpyHtoDAsync(destination, source, bytes, stream);

    public CuResult MemcpyDtoHAsync(nint destination, ulong source, nuint bytes, nint stream) => _memcpyDtoHAsync(destination, source, bytes, stream);

    public CuResult MemsetD8(ulong destination, byte value, nuint count) => _memsetD8(destination, value, count);

    public CuResult StreamCreate(out nint stream, uint flags)
    {
        nint s;
        var r = _streamCreate(&s, flags);
        stream = s;
        return r;
    }

    public CuResult StreamDestroy(nint stream) => _streamDestroy(stream);

    public CuResult StreamSynchronize(nint stream) => _streamSynchronize(stream);

    public CuResult EventCreate(out nint evt, uint flags)
    {
        nint e;
        var r = _eventCreate(&e, flags);
        evt = e;
        return r;
    }

    public CuResult EventDestroy(nint evt) => _eventDestroy(evt);

    public CuResult EventRecord(nint evt, nint stream) => _eventRecord(evt, stream);

    public CuResult EventSynchronize(nint evt) => _eventSynchronize(evt);

    public CuResult EventElapsedTime(out float milliseconds, nint start, nint end)
    {
        float ms;
        var r = _eventElapsedTime(&ms, start, end);
        milliseconds = ms;
        return r;
    }

    public string? GetErrorName(CuResult result)
    {
        byte* text = null;
        return _getErrorName(result, &text) == CuResult.Success && text != null ? Marshal.PtrToStringUTF8((nint)text) : null;
    }

    public string? GetErrorString(CuResult result)
    {
        byte* text = null;
        return _getErrorString(result, &text) == CuResult.Success && text != null ? Marshal.PtrToStringUTF8((nint)text) : null;
    }
}
