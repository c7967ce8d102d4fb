using System.Runtime.InteropServices;

namespace DeepSeek.Interop.Nccl;

/// <summary>
/// The NCCL functions we call, resolved from <see cref="NcclLibrary"/> once (touch <see cref="NcclLibrary.Handle"/> first so
/// a missing library is a clean <see cref="NcclUnavailableException"/>). <c>ncclComm_t</c> and <c>cudaStream_t</c> are
/// pointers; enums are C ints. Every return code goes through <see cref="Check(NcclResult, string)"/>.
/// </summary>
internal static unsafe class NcclNative
{
    public static readonly delegate* unmanaged<int*, NcclResult> GetVersion;
    public static readonly delegate* unmanaged<NcclUniqueId*, NcclResult> GetUniqueId;
    public static readonly delegate* unmanaged<nint*, int, NcclUniqueId, int, NcclResult> CommInitRank;
    public static readonly delegate* unmanaged<nint, NcclResult> CommDestroy, CommAbort;
    public static readonly delegate* unmanaged<nint, int*, NcclResult> CommCount, CommUserRank;
    public static readonly delegate* unmanaged<nint, NcclResult*, NcclResult> CommGetAsyncError;
    public static readonly delegate* unmanaged<NcclResult, byte*> GetErrorString;
    public static readonly delegate* unmanaged<NcclResult> GroupStart, GroupEnd;
    public static readonly delegate* unmanaged<nint, nint, nuint, NcclDataType, NcclRedOp, nint, nint, NcclResult> AllReduce, ReduceScatter;
    public static readonly delegate* unmanaged<nint, nint, nuint, NcclDataType, nint, nint, NcclResult> AllGather;
    public static readonly delegate* unmanaged<nint, nint, nuint, NcclDataType, int, nint, nint, NcclResult> Broadcast;
    public static readonly delegate* unmanaged<nint, nuint, NcclDataType, int, nint, nint, NcclResult> Send, Recv;

    /// <summary><c>ncclCommSplit(comm, color, key, &amp;newcomm, config)</c> (NCCL ≥ 2.18), or null on older libraries.</summary>
    public static readonly delegate* unmanaged<nint, int, int, nint*, nint, NcclResult> CommSplit;

    static NcclNative()
    {
        GetVersion = (delegate* unmanaged<int*, NcclResult>)NcclLibrary.Export("ncclGetVersion");
        GetUniqueId = (delegate* unmanaged<NcclUniqueId*, NcclResult>)NcclLibrary.Export("ncclGetUniqueId");
        CommInitRank = (delegate* unmanaged<nint*, int, NcclUniqueId, int, NcclResult>)NcclLibrary.Export("ncclCommInitRank");
        CommDestroy = (delegate* unmanaged<nint, NcclResult>)NcclLibrary.Export("ncclCommDestroy");
        CommAbort = (delegate* unmanaged<nint, NcclResult>)NcclLibrary.Export("ncclCommAbort");
        CommCount = (delegate* unmanaged<nint, int*, NcclResult>)NcclLibrary.Export("ncclCommCount");
        CommUserRank = (delegate* unmanaged<nint, int*, NcclResult>)NcclLibrary.Export("ncclCommUserRank");
        CommGetAsyncError = (delegate* unmanaged<nint, NcclResult*, NcclResult>)NcclLibrary.Export("ncclCommGetAsyncError");
        GetErrorString = (delegate* unmanaged<NcclResult, byte*>)NcclLibrary.Export("ncclGetErrorString");
        GroupStart = (delegate* unmanaged<NcclResult>)NcclLibrary.Export("ncclGroupStart");
        GroupEnd = (delegate* unmanaged<NcclResult>)NcclLibrary.Export("ncclGroupEnd");
        AllReduce = (delegate* unmanaged<nint, nint, nuint, NcclDataType, NcclRedOp, nint, nint, NcclResult>)NcclLibrary.Export("ncclAllReduce");
        ReduceScatter = (delegate* unmanaged<nint, nint, nuint, NcclDataType, NcclRedOp, nint, nint, NcclResult>)NcclLibrary.Export("ncclReduceScatter");
        AllGather = (delegate* unmanaged<nint, nint, nuint, NcclDataType, nint, nint, NcclResult>)NcclLibrary.Export("ncclAllGather");
        Broadcast = (delegate* unmanaged<nint, nint, nuint, NcclDataType, int, nint, nint, NcclResult>)NcclLibrary.Export("ncclBroadcast");
        Send = (delegate* unmanaged<nint, nuint, NcclDataType, int, nint, nint, NcclResult>)NcclLibrary.Export("ncclSend");
        Recv = (delegate* unmanaged<nint, nuint, NcclDataType, int, nint, nint, NcclResult>)NcclLibrary.Export("ncclRecv");
        CommSplit = NcclLibrary.TryExport("ncclCommSplit", out var split) ? (delegate* unmanaged<nint, int, int, nint*, nint, NcclResult>)split : null;
    }

    /// <summary>Throws <see cref="NcclException"/> naming <paramref name="call"/> unless <paramref name="result"/> is <c>ncclSuccess</c>.</summary>
    public static void Check(NcclResult result, string call) => NcclErrors.Check(result, call, Describe);

    /// <summary>NCCL's text for a result (<c>ncclGetErrorString</c>).</summary>
    public static string Describe(NcclResult result)
    {
        var text = GetErrorString(result);
        return text is null ? "unknown NCCL error" : Marshal.PtrToStringUTF8((nint)text) ?? "unknown NCCL error";
    }
}
