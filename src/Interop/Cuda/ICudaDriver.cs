namespace DeepSeek.Interop.Cuda;

/// <summary>
/// The CUDA driver entry points we use, one method per C function (same argument order; host pointers as
/// <see cref="nint"/>, device pointers as <see cref="ulong"/>). <see cref="NativeCudaDriver"/> calls libcuda;
/// tests substitute a fake to check handle lifetimes, error mapping and launch marshalling without a GPU.
/// </summary>
internal interface ICudaDriver
{
    CuResult Init(uint flags);
    CuResult DriverGetVersion(out int version);
    CuResult DeviceGetCount(out int count);
    CuResult DeviceGet(out int device, int ordinal);
    CuResult DeviceGetName(Span<byte> name, int device);
    CuResult DeviceGetAttribute(out int value, CuDeviceAttribute attribute, int device);
    CuResult DeviceTotalMem(out nuint bytes, int device);
    CuResult DevicePrimaryCtxRetain(out nint context, int device);
    CuResult DevicePrimaryCtxRelease(int device);
    CuResult CtxSetCurrent(nint context);
    CuResult CtxSynchronize();
    CuResult MemGetInfo(out nuint free, out nuint total);
    CuResult ModuleLoadDataEx(out nint module, nint image, uint count, nint options, nint optionValues);
    CuResult ModuleUnload(nint module);
    CuResult ModuleGetFunction(out nint function, nint module, nint name);
    CuResult LaunchKernel(nint function, uint gridX, uint gridY, uint gridZ, uint blockX, uint blockY, uint blockZ, uint sharedBytes, nint stream, nint kernelParams, nint extra);
    CuResult MemAlloc(out ulong pointer, nuint bytes);
    CuResult MemFree(ulong pointer);
    CuResult MemHostAlloc(out nint pointer, nuint bytes, uint flags);
    CuResult MemFreeHost(nint pointer);
    CuResult MemcpyHtoD(ulong destination, nint source, nuint bytes);
    CuResult MemcpyDtoH(nint destination, ulong source, nuint bytes);
    CuResult MemcpyDtoD(ulong destination, ulong source, nuint bytes);
    CuResult MemcpyHtoDAsync(ulong destination, nint source, nuint bytes, nint stream);
    CuResult MemcpyDtoHAsync(nint destination, ulong source, nuint bytes, nint stream);
    CuResult MemsetD8(ulong destination, byte value, nuint count);
    CuResult StreamCreate(out nint stream, uint flags);
    CuResult StreamDestroy(nint stream);
    CuResult StreamSynchronize(nint stream);
    CuResult EventCreate(out nint evt, uint flags);
    CuResult EventDestroy(nint evt);
    CuResult EventRecord(nint evt, nint stream);
    CuResult EventSynchronize(nint evt);
    CuResult EventElapsedTime(out float milliseconds, nint start, nint end);
    string? GetErrorName(CuResult result);
    string? GetErrorString(CuResult result);
}

/// <summary>The <c>CUdevice_attribute</c> values we query.</summary>
internal enum CuDeviceAttribute
{
    MaxThreadsPerBlock = 1,
    MaxSharedMemoryPerBlock = 8,
    ClockRate = 13,
    MultiprocessorCount = 16,
    MemoryClockRate = 36,
    GlobalMemoryBusWidth = 37,
    ComputeCapabilityMajor = 75,
    ComputeCapabilityMinor = 76,
}

/// <summary>Turns a failed result into a <see cref="CudaException"/> with the driver's own words.</summary>
internal static class CudaCheck
{
    public static void Check(this ICudaDriver driver, CuResult result, string call, string? detail = null)
    {
        if (result != CuResult.Success) throw driver.Error(result, call, detail);
    }

    public static CudaException Error(this ICudaDriver driver, CuResult result, string call, string? detail = null)
    {
        string? name = null, text = null;
        try
        {
            name = driver.GetErrorName(result);
            text = driver.GetErrorString(result);
        }
        catch (CudaUnavailableException)
        {
            // A driver too old to describe its errors still gets the numeric code reported.
        }
        name ??= Enum.IsDefined(result) ? $"CUDA_ERROR_{result}" : null;
        return new CudaException(call, result, name, text, detail);
    }
}
