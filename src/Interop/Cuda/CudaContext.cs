using System.Text;

namespace DeepSeek.Interop.Cuda;

/// <summary>
/// One GPU's primary context: the entry point to device memory, pinned host memory, modules, streams and events.
/// Calls make the context current on the calling thread first, so the object can be used from any thread (one at a
/// time: it is not synchronised).
/// </summary>
public sealed class CudaContext : IDisposable
{
    private CudaContext(ICudaDriver driver, CudaContextHandle handle, CudaDeviceInfo device)
    {
        Driver = driver;
        Handle = handle;
        Device = device;
    }

    /// <summary>The retained primary context.</summary>
    public CudaContextHandle Handle { get; }

    /// <summary>The device this context runs on.</summary>
    public CudaDeviceInfo Device { get; }

    /// <summary>The kernel launched last (named in fault reports, which surface at the next synchronising call).</summary>
    public string? LastLaunch { get; internal set; }

    internal ICudaDriver Driver { get; }

    /// <summary>Initialises the driver and retains device <paramref name="deviceOrdinal"/>'s primary context.</summary>
    /// <exception cref="CudaUnavailableException">No NVIDIA driver on this machine.</exception>
    /// <exception cref="CudaException">The driver found no usable device, or another driver call failed.</exception>
    public static CudaContext Create(int deviceOrdinal = 0) => Create(NativeCudaDriver.Shared, deviceOrdinal);

    internal static CudaContext Create(ICudaDriver driver, int deviceOrdinal)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(deviceOrdinal);
        driver.Check(driver.Init(0), "cuInit");
        driver.Check(driver.DeviceGetCount(out var count), "cuDeviceGetCount");
        if (deviceOrdinal >= count)
            throw new ArgumentOutOfRangeException(nameof(deviceOrdinal), $"CUDA device {deviceOrdinal} requested, but the driver sees {count} device(s)");
        driver.Check(driver.DeviceGet(out var device, deviceOrdinal), "cuDeviceGet", $"ordinal {deviceOrdinal}");
        Span<byte> name = stackalloc byte[256];
        name.Clear();
        driver.Check(driver.DeviceGetName(name[..255], device), "cuDeviceGetName");
        var nameText = Encoding.UTF8.GetString(name[..Math.Max(0, name.IndexOf((byte)0))]);
        int Attribute(CuDeviceAttribute a)
        {
            driver.Check(driver.DeviceGetAttribute(out var v, a, device), "cuDeviceGetAttribute", a.ToString());
            return v;
        }
        var major = Attribute(CuDeviceAttribute.ComputeCapabilityMajor);
        var minor = Attribute(CuDeviceAttribute.ComputeCapabilityMinor);
        var sms = Attribute(CuDeviceAttribute.MultiprocessorCount);
        driver.Check(driver.DeviceTotalMem(out var total, device), "cuDeviceTotalMem_v2");
        driver.Check(driver.DriverGetVersion(out var version), "cuDriverGetVersion");
        driver.Check(driver.DevicePrimaryCtxRetain(out var ctx, device), "cuDevicePrimaryCtxRetain", $"device {deviceOrdinal} ({nameText})");
        var handle = new CudaContextHandle(driver, ctx, device);
        try
        {
            driver.Check(driver.CtxSetCurrent(ctx), "cuCtxSetCurrent");
        }
        catch
        {
            handle.Dispose();
            throw;
        }
        return new CudaContext(driver, handle, new CudaDeviceInfo(deviceOrdinal, nameText, major, minor, sms, (long)total, version));
    }

    /// <summary>Makes this context current on the calling thread.</summary>
    public void MakeCurrent() => Driver.Check(Driver.CtxSetCurrent(Handle.Value), "cuCtxSetCurrent");

    /// <summary>Allocates <paramref name="length"/> elements of device memory (uninitialised).</summary>
    /// <exception cref="CudaException">Out of memory (with the size asked for and the free memory in the message).</exception>
    public DeviceBuffer<T> Allocate<T>(long length) where T : unmanaged
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        var bytes = checked(length * System.Runtime.CompilerServices.Unsafe.SizeOf<T>());
        if (bytes == 0) return new DeviceBuffer<T>(this, null, 0);
        MakeCurrent();
        var r = Driver.MemAlloc(out var pointer, (nuint)bytes);
        if (r != CuResult.Success)
        {
            var free = Driver.MemGetInfo(out var f, out var t) == CuResult.Success ? $", {(long)f:N0} of {(long)t:N0} bytes free" : "";
            throw Driver.Error(r, "cuMemAlloc_v2", $"{bytes:N0} bytes for {length:N0} × {typeof(T).Name}{free}");
        }
        return new DeviceBuffer<T>(this, new CudaDeviceMemoryHandle(Driver, Handle, pointer, bytes), length);
    }

    /// <summary>Allocates page-locked host memory (<c>cuMemHostAlloc</c>), the source/target asynchronous copies need.</summary>
    public PinnedHostBuffer<T> AllocatePinned<T>(long length) where T : unmanaged
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        if (length > int.MaxValue) throw new ArgumentOutOfRangeException(nameof(length), $"{length} elements: pinned buffers are addressed as spans (at most {int.MaxValue})");
        var bytes = checked(length * System.Runtime.CompilerServices.Unsafe.SizeOf<T>());
        if (bytes == 0) return new PinnedHostBuffer<T>(null, 0);
        MakeCurrent();
        Driver.Check(Driver.MemHostAlloc(out var pointer, (nuint)bytes, 0), "cuMemHostAlloc", $"{bytes:N0} bytes");
        return new PinnedHostBuffer<T>(new CudaHostMemoryHandle(Driver, Handle, pointer, bytes), (int)length);
    }

    /// <summary>Creates a stream; <paramref name="nonBlocking"/> streams do not synchronise with the legacy default stream.</summary>
    public CudaStream CreateStream(bool nonBlocking = true)
    {
        MakeCurrent();
        Driver.Check(Driver.StreamCreate(out var stream, nonBlocking ? 1u : 0u), "cuStreamCreate");
        return new CudaStream(this, new CudaStreamHandle(Driver, Handle, stream));
    }

    /// <summary>Creates an event; with <paramref name="timing"/> it can measure elapsed time.</summary>
    public CudaEvent CreateEvent(bool timing = true)
    {
        MakeCurrent();
        Driver.Check(Driver.EventCreate(out var evt, timing ? 0u : 2u), "cuEventCreate");
        return new CudaEvent(this, new CudaEventHandle(Driver, Handle, evt));
    }

    /// <summary>JIT-compiles a PTX module (the driver's error and info logs go into the exception on failure).</summary>
    /// <exception cref="CudaModuleLoadException">The driver rejected the PTX.</exception>
    public CudaModule LoadModule(string name, ReadOnlySpan<byte> ptx) => CudaModule.Load(this, name, ptx);

    /// <summary>Waits for all work on this context; a kernel fault surfaces here, naming the last kernel launched.</summary>
    public void Synchronize()
    {
        MakeCurrent();
        Driver.Check(Driver.CtxSynchronize(), "cuCtxSynchronize", LastLaunch is null ? null : $"last kernel launched: {LastLaunch}");
    }

    /// <summary>Free and total device memory in bytes.</summary>
    public (long Free, long Total) MemoryInfo()
    {
        MakeCurrent();
        Driver.Check(Driver.MemGetInfo(out var free, out var total), "cuMemGetInfo_v2");
        return ((long)free, (long)total);
    }

    /// <summary>Releases this object's reference on the primary context (it stays alive while buffers, modules, streams or events of it do).</summary>
    public void Dispose() => Handle.Dispose();
}
