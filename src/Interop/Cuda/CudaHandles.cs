using System.Runtime.InteropServices;

namespace DeepSeek.Interop.Cuda;

/// <summary>
/// Base of every CUDA object handle. A child (module, stream, event, allocation) holds a reference on its context
/// handle, so the context outlives it whatever the dispose order, and makes the context current before releasing
/// itself (finalizer threads have no current context). SafeHandle guarantees one release: no double free.
/// </summary>
public abstract class CudaHandle : SafeHandle
{
    private readonly CudaContextHandle? _context;

    private protected CudaHandle(ICudaDriver driver, CudaContextHandle? context, nint value) : base(0, ownsHandle: true)
    {
        Driver = driver;
        if (context is not null)
        {
            var added = false;
            context.DangerousAddRef(ref added);
            _context = context;
        }
        SetHandle(value);
    }

    internal ICudaDriver Driver { get; }

    /// <inheritdoc/>
    public override bool IsInvalid => handle == 0;

    /// <summary>The raw driver value, for launches and copies; throws once disposed.</summary>
    internal nint Value => IsClosed ? throw new ObjectDisposedException(GetType().Name) : handle;

    /// <inheritdoc/>
    protected sealed override bool ReleaseHandle()
    {
        try
        {
            if (_context is not null) Driver.CtxSetCurrent(_context.DangerousGetHandle());
            return Release(handle) == CuResult.Success;
        }
        finally
        {
            _context?.DangerousRelease();
        }
    }

    private protected abstract CuResult Release(nint value);
}

/// <summary>A retained primary context of one device; released with <c>cuDevicePrimaryCtxRelease</c>.</summary>
public sealed class CudaContextHandle : CudaHandle
{
    internal CudaContextHandle(ICudaDriver driver, nint context, int device) : base(driver, null, context) => Device = device;

    /// <summary>The device ordinal whose primary context this is.</summary>
    public int Device { get; }

    private protected override CuResult Release(nint value) => Driver.DevicePrimaryCtxRelease(Device);
}

/// <summary>A loaded module (<c>cuModuleUnload</c>).</summary>
public sealed class CudaModuleHandle : CudaHandle
{
    internal CudaModuleHandle(ICudaDriver driver, CudaContextHandle context, nint module) : base(driver, context, module)
    {
    }

    private protected override CuResult Release(nint value) => Driver.ModuleUnload(value);
}

/// <summary>A stream (<c>cuStreamDestroy</c>).</summary>
public sealed class CudaStreamHandle : CudaHandle
{
    internal CudaStreamHandle(ICudaDriver driver, CudaContextHandle context, nint stream) : base(driver, context, stream)
    {
    }

    private protected override CuResult Release(nint value) => Driver.StreamDestroy(value);
}

/// <summary>An event (<c>cuEventDestroy</c>).</summary>
public sealed class CudaEventHandle : CudaHandle
{
    internal CudaEventHandle(ICudaDriver driver, CudaContextHandle context, nint evt) : base(driver, context, evt)
    {
    }

    private protected override CuResult Release(nint value) => Driver.EventDestroy(value);
}

/// <summary>A device allocation (<c>cuMemFree</c>); the handle value is the device pointer.</summary>
public sealed class CudaDeviceMemoryHandle : CudaHandle
{
    internal CudaDeviceMemoryHandle(ICudaDriver driver, CudaContextHandle context, ulong pointer, long bytes) : base(driver, context, (nint)pointer) => Bytes = bytes;

    /// <summary>Size of the allocation.</summary>
    public long Bytes { get; }

    private protected override CuResult Release(nint value) => Driver.MemFree((ulong)value);
}

/// <summary>A page-locked host allocation (<c>cuMemFreeHost</c>).</summary>
public sealed class CudaHostMemoryHandle : CudaHandle
{
    internal CudaHostMemoryHandle(ICudaDriver driver, CudaContextHandle context, nint pointer, long bytes) : base(driver, context, pointer) => Bytes = bytes;

    /// <summary>Size of the allocation.</summary>
    public long Bytes { get; }

    private protected override CuResult Release(nint value) => Driver.MemFreeHost(value);
}
