using System.Runtime.InteropServices;
using DeepSeek.Interop.Cuda;

namespace DeepSeek.Interop.Nccl;

/// <summary>
/// The few CUDA driver calls the NCCL communicator needs to stage host spans through device memory (context, stream,
/// allocation, copies, stream polling), resolved from <see cref="CudaDriverLibrary"/>. Kept here, small and private, so
/// the NCCL communicator does not depend on the CUDA backend's types; the device-pointer API needs none of it.
/// </summary>
internal static unsafe class NcclCuda
{
    public const int Success = 0, NotReady = 600;
    public const uint StreamNonBlocking = 1;

    public static readonly delegate* unmanaged<uint, int> Init;
    public static readonly delegate* unmanaged<int*, int, int> DeviceGet;
    public static readonly delegate* unmanaged<nint*, int, int> PrimaryCtxRetain;
    public static readonly delegate* unmanaged<int, int> PrimaryCtxRelease;
    public static readonly delegate* unmanaged<nint, int> CtxSetCurrent;
    public static readonly delegate* unmanaged<nint*, nuint, int> MemAlloc;
    public static readonly delegate* unmanaged<nint, int> MemFree;
    public static readonly delegate* unmanaged<nint, void*, nuint, nint, int> MemcpyHtoDAsync;
    public static readonly delegate* unmanaged<void*, nint, nuint, nint, int> MemcpyDtoHAsync;
    public static readonly delegate* unmanaged<nint*, uint, int> StreamCreate;
    public static readonly delegate* unmanaged<nint, int> StreamDestroy, StreamQuery, StreamSynchronize;
    public static readonly delegate* unmanaged<int, byte**, int> GetErrorName;

    static NcclCuda()
    {
        var h = CudaDriverLibrary.Handle;
        nint F(string name) => NativeLibrary.TryGetExport(h, name, out var address) ? address
            : throw new NcclUnavailableException($"The NVIDIA driver library has no '{name}'; the driver is too old for host-staged NCCL operations.");
        Init = (delegate* unmanaged<uint, int>)F("cuInit");
        DeviceGet = (delegate* unmanaged<int*, int, int>)F("cuDeviceGet");
        PrimaryCtxRetain = (delegate* unmanaged<nint*, int, int>)F("cuDevicePrimaryCtxRetain");
        PrimaryCtxRelease = (delegate* unmanaged<int, int>)F("cuDevicePrimaryCtxRelease_v2");
        CtxSetCurrent = (delegate* unmanaged<nint, int>)F("cuCtxSetCurrent");
        MemAlloc = (delegate* unmanaged<nint*, nuint, int>)F("cuMemAlloc_v2");
        MemFree = (delegate* unmanaged<nint, int>)F("cuMemFree_v2");
        MemcpyHtoDAsync = (delegate* unmanaged<nint, void*, nuint, nint, int>)F("cuMemcpyHtoDAsync_v2");
        MemcpyDtoHAsync = (delegate* unmanaged<void*, nint, nuint, nint, int>)F("cuMemcpyDtoHAsync_v2");
        StreamCreate = (delegate* unmanaged<nint*, uint, int>)F("cuStreamCreate");
        StreamDestroy = (delegate* unmanaged<nint, int>)F("cuStreamDestroy_v2");
        StreamQuery = (delegate* unmanaged<nint, int>)F("cuStreamQuery");
        StreamSynchronize = (delegate* unmanaged<nint, int>)F("cuStreamSynchronize");
        GetErrorName = (delegate* unmanaged<int, byte**, int>)F("cuGetErrorName");
    }

    /// <summary>Throws <see cref="NcclStagingException"/> naming the call unless <paramref name="code"/> is CUDA_SUCCESS.</summary>
    public static void Check(int code, string call)
    {
        if (code == Success) return;
        byte* name = null;
        var text = GetErrorName(code, &name) == Success && name is not null ? Marshal.PtrToStringUTF8((nint)name) : null;
        throw new NcclStagingException($"{call} failed with CUDA error {code} ({text ?? "unknown"}) while staging an NCCL operation.");
    }
}
