using DeepSeek.Runtime.Distributed;

namespace DeepSeek.Interop.Nccl;

/// <summary>
/// A communicator over NVIDIA's NCCL (<c>libnccl.so.2</c>), one GPU per rank. Two faces:
/// <list type="bullet">
/// <item>the device API (<see cref="AllReduce(nint, nint, long, NcclDataType, NcclRedOp, nint)"/>, …): device pointers and a
/// <c>CUstream</c>/<c>cudaStream_t</c>; the call enqueues the collective on the stream and returns, as NCCL does;</item>
/// <item><see cref="ICommunicator"/> over host spans, for code written against the interface: each call copies the
/// span to device memory, runs the NCCL call on a private stream, polls it (cancellation, timeout, asynchronous
/// errors) and copies the result back. Correct everywhere, fast nowhere: GPU code should use the device API.</item>
/// </list>
/// Create it with <see cref="Create(ICommunicator, NcclCommunicatorOptions?)"/> (rank 0's <see cref="NcclUniqueId"/> travels over
/// an existing communicator such as MPI's) or <see cref="InitRank(int, NcclUniqueId, int, NcclCommunicatorOptions?)"/>.
/// </summary>
/// <remarks>
/// <para>Errors: <see cref="NcclUnavailableException"/> when the library (or, for host spans, the NVIDIA driver) is missing;
/// <see cref="NcclException"/> naming the call and NCCL's error string for every other failure.</para>
/// <para>NCCL has neither tags nor message sizes on point-to-point transfers: <see cref="Send{T}"/> sends a header
/// (tag, length) before the data, <see cref="Receive{T}"/> checks it, and messages between two ranks must be received in
/// the order they were sent. A send completes only when the peer receives (NCCL's rendezvous), unlike MPI's buffered
/// sends. Host-staged operations of one communicator run one at a time.</para>
/// <para>Failure: a timed-out, cancelled or failed host-staged operation aborts the communicator (<c>ncclCommAbort</c>);
/// <see cref="Abort"/> also aborts the bootstrap communicator it was created over (under MPI, <c>MPI_Abort</c> ends the job).</para>
/// </remarks>
public sealed partial class NcclCommunicator : ICommunicator
{
    private readonly NcclCommunicatorOptions _options;
    private readonly ICommunicator? _bootstrap;
    private readonly Lock _gate = new();
    private nint _comm;
    private NcclStaging? _staging;
    private string? _broken;
    private bool _disposed;

    private unsafe NcclCommunicator(nint comm, NcclCommunicatorOptions options, ICommunicator? bootstrap)
    {
        (_comm, _options, _bootstrap) = (comm, options, bootstrap);
        int rank, size;
        NcclNative.Check(NcclNative.CommUserRank(comm, &rank), "ncclCommUserRank");
        NcclNative.Check(NcclNative.CommCount(comm, &size), "ncclCommCount");
        (Rank, Size) = (rank, size);
    }

    /// <inheritdoc/>
    public int Rank { get; }

    /// <inheritdoc/>
    public int Size { get; }

    /// <summary>The <c>ncclComm_t</c>, for calls this type does not wrap.</summary>
    public nint Handle
    {
        get
        {
            ThrowIfUnusable("Handle");
            return _comm;
        }
    }

    /// <summary>NCCL's version code (<c>ncclGetVersion</c>: 21903 for 2.19.3; 2.8 and older: major·1000 + minor·100 + patch).</summary>
    /// <exception cref="NcclUnavailableException">NCCL is not installed.</exception>
    public static unsafe int Version
    {
        get
        {
            _ = NcclLibrary.Handle;
            int version;
            NcclNative.Check(NcclNative.GetVersion(&version), "ncclGetVersion");
            return version;
        }
    }

    /// <summary>A fresh id for a new communicator (<c>ncclGetUniqueId</c>); call on one rank and give the bytes to the others.</summary>
    /// <exception cref="NcclUnavailableException">NCCL is not installed.</exception>
    public static unsafe NcclUniqueId CreateUniqueId()
    {
        _ = NcclLibrary.Handle;
        NcclUniqueId id;
        NcclNative.Check(NcclNative.GetUniqueId(&id), "ncclGetUniqueId");
        return id;
    }

    /// <summary>
    /// Joins rank <paramref name="rank"/> of <paramref name="size"/> to the communicator <paramref name="id"/>
    /// (<c>ncclCommInitRank</c>, on <see cref="NcclCommunicatorOptions.Device"/>). Collective: returns once every rank has joined.
    /// </summary>
    /// <exception cref="NcclUnavailableException">NCCL or the NVIDIA driver is missing.</exception>
    public static NcclCommunicator InitRank(int size, NcclUniqueId id, int rank, NcclCommunicatorOptions? options = null) =>
        Join(size, id, rank, options ?? new NcclCommunicatorOptions(), bootstrap: null);

    /// <summary>
    /// Builds an NCCL communicator with the ranks of <paramref name="bootstrap"/> (e.g. <c>MpiCommunicator.InitializeWorld()</c>):
    /// its rank 0 creates the id and broadcasts it. Collective over <paramref name="bootstrap"/>, which must outlive the result
    /// (<see cref="Abort"/> aborts it too).
    /// </summary>
    public static NcclCommunicator Create(ICommunicator bootstrap, NcclCommunicatorOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(bootstrap);
        // Every rank learns whether rank 0 could create the id, so a missing library fails everywhere instead of hanging.
        var id = new byte[NcclUniqueId.Bytes + 1];
        Exception? failure = null;
        if (bootstrap.Rank == 0)
        {
            try
            {
                CreateUniqueId().ToArray().CopyTo(id, 1);
                id[0] = 1;
            }
            catch (CommunicatorException e)
            {
                failure = e;
            }
        }
        bootstrap.Broadcast<byte>(id, root: 0);
        if (failure is not null) throw failure;
        if (id[0] != 1) throw new NcclUnavailableException("Rank 0 could not create an NCCL id (NCCL is missing there); see rank 0's error.");
        return Join(bootstrap.Size, NcclUniqueId.FromBytes(id.AsSpan(1)), bootstrap.Rank, options ?? new NcclCommunicatorOptions(), bootstrap);
    }

    private static unsafe NcclCommunicator Join(int size, NcclUniqueId id, int rank, NcclCommunicatorOptions options, ICommunicator? bootstrap)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(size, 1);
        if ((uint)rank >= (uint)size) throw new ArgumentOutOfRangeException(nameof(rank), rank, $"must be in [0, {size})");
        _ = NcclLibrary.Handle;
        NcclStaging.MakeCurrent(options.Device);
        nint comm;
        NcclNative.Check(NcclNative.CommInitRank(&comm, size, id, rank), "ncclCommInitRank");
        return new NcclCommunicator(comm, options, bootstrap);
    }

    /// <summary>NCCL's asynchronous error of this communicator (<c>ncclCommGetAsyncError</c>): a failure in a remote rank or the network.</summary>
    public unsafe NcclResult AsyncError
    {
        get
        {
            ThrowIfUnusable("AsyncError");
            NcclResult error;
            NcclNative.Check(NcclNative.CommGetAsyncError(_comm, &error), "ncclCommGetAsyncError");
            return error;
        }
    }

    /// <summary>Throws <see cref="NcclException"/> when NCCL reports an asynchronous error on this communicator.</summary>
    public void ThrowIfAsyncError()
    {
        var error = AsyncError;
        if (error is not NcclResult.Success and not NcclResult.InProgress)
            throw new NcclException("ncclCommGetAsyncError", error, NcclNative.Describe(error));
    }

    /// <summary>Sub-groups with <c>ncclCommSplit</c> (NCCL ≥ 2.18). Collective.</summary>
    /// <exception cref="NcclUnavailableException">The library is older than 2.18.</exception>
    public unsafe ICommunicator Split(int color, int key)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(color);
        ThrowIfUnusable("Split");
        if (NcclNative.CommSplit is null) throw new NcclUnavailableException("Split needs ncclCommSplit, which NCCL 2.18 and newer export; this library does not.");
        nint child;
        NcclStaging.MakeCurrent(_options.Device);
        NcclNative.Check(NcclNative.CommSplit(_comm, color, key, &child, 0), "ncclCommSplit");
        return new NcclCommunicator(child, _options, _bootstrap);
    }

    /// <summary>Aborts the NCCL communicator (<c>ncclCommAbort</c>) and the bootstrap communicator it was created over, if any.</summary>
    public void Abort(string reason)
    {
        Console.Error.WriteLine($"error: NCCL rank {Rank} of {Size} aborts: {reason}");
        AbortNccl(reason);
        _bootstrap?.Abort(reason);
    }

    /// <summary>Destroys the communicator (<c>ncclCommDestroy</c>; <c>ncclCommAbort</c> when it is broken) and frees the staging buffers.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        lock (_gate)
        {
            if (_comm != 0)
            {
                unsafe { _ = _broken is null ? NcclNative.CommDestroy(_comm) : NcclNative.CommAbort(_comm); }
                _comm = 0;
            }
            _staging?.Dispose();
            _staging = null;
        }
    }

    /// <inheritdoc/>
    public override string ToString() => $"NCCL rank {Rank} of {Size}";

    private unsafe void AbortNccl(string reason)
    {
        if (_broken is not null || _comm == 0) return;
        _broken = reason;
        _ = NcclNative.CommAbort(_comm);   // frees the communicator: it must not be used (or destroyed) again
        _comm = 0;
    }

    private void ThrowIfUnusable(string operation)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_broken is not null)
            throw new CommunicatorException($"{operation} on NCCL rank {Rank}: the communicator was aborted ({_broken}).");
    }
}
