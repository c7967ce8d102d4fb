using System.Diagnostics;
using DeepSeek.Interop.Cuda;
using DeepSeek.Runtime.Distributed;

namespace DeepSeek.Interop.Nccl;

/// <summary>
/// Device memory and a stream through which the host-span operations of an <see cref="NcclCommunicator"/> run: copy
/// in, the NCCL call on the stream, poll the stream (so cancellation, the timeout and NCCL's asynchronous errors are
/// seen instead of blocking forever), copy out. Buffers grow to the largest operation and are reused.
/// </summary>
internal sealed unsafe class NcclStaging : IDisposable
{
    private readonly int _device;
    private readonly nint _context;
    private nint _stream;
    private nint _send, _receive;
    private long _sendBytes, _receiveBytes;

    private NcclStaging(int device, nint context, nint stream)
    {
        (_device, _context, _stream) = (device, context, stream);
    }

    public nint Stream => _stream;

    /// <summary>Makes device <paramref name="device"/>'s primary context current (the one the CUDA runtime and so NCCL use).</summary>
    /// <exception cref="NcclUnavailableException">There is no NVIDIA driver.</exception>
    public static nint MakeCurrent(int device)
    {
        if (!CudaDriverLibrary.IsAvailable)
            throw new NcclUnavailableException("NCCL needs an NVIDIA GPU: the CUDA driver library could not be loaded (" +
                string.Join(" or ", CudaDriverLibrary.CandidateNames) + "). Without a GPU use the MPI or in-process communicator.");
        NcclCuda.Check(NcclCuda.Init(0), "cuInit");
        int handle;
        NcclCuda.Check(NcclCuda.DeviceGet(&handle, device), $"cuDeviceGet({device})");
        nint context;
        NcclCuda.Check(NcclCuda.PrimaryCtxRetain(&context, handle), "cuDevicePrimaryCtxRetain");
        NcclCuda.Check(NcclCuda.CtxSetCurrent(context), "cuCtxSetCurrent");
        return context;
    }

    public static NcclStaging Create(int device)
    {
        var context = MakeCurrent(device);
        nint stream;
        NcclCuda.Check(NcclCuda.StreamCreate(&stream, NcclCuda.StreamNonBlocking), "cuStreamCreate");
        return new NcclStaging(device, context, stream);
    }

    /// <summary>Device buffers of at least the given sizes (contents undefined), current context set for this thread.</summary>
    public (nint Send, nint Receive) Reserve(long sendBytes, long receiveBytes)
    {
        NcclCuda.Check(NcclCuda.CtxSetCurrent(_context), "cuCtxSetCurrent");
        Grow(ref _send, ref _sendBytes, sendBytes);
        Grow(ref _receive, ref _receiveBytes, receiveBytes);
        return (_send, _receive);
    }

    public void Upload(nint device, void* host, long bytes)
    {
        if (bytes > 0) NcclCuda.Check(NcclCuda.MemcpyHtoDAsync(device, host, (nuint)bytes, _stream), "cuMemcpyHtoDAsync");
    }

    /// <summary>Copies back once the stream has drained (call <see cref="Wait"/> first: a copy cannot be interrupted).</summary>
    public void Download(void* host, nint device, long bytes)
    {
        if (bytes <= 0) return;
        NcclCuda.Check(NcclCuda.MemcpyDtoHAsync(host, device, (nuint)bytes, _stream), "cuMemcpyDtoHAsync");
        NcclCuda.Check(NcclCuda.StreamSynchronize(_stream), "cuStreamSynchronize");
    }

    /// <summary>
    /// Polls the stream until the enqueued work is done. <paramref name="asyncError"/> is NCCL's asynchronous error of the
    /// communicator; a failure, cancellation or the timeout calls <paramref name="abort"/> (the stream can only drain once
    /// the communicator is aborted) and throws.
    /// </summary>
    public void Wait(string call, TimeSpan timeout, CancellationToken cancellationToken, Func<NcclResult> asyncError, Action<string> abort)
    {
        var started = Stopwatch.GetTimestamp();
        var spin = new SpinWait();
        while (true)
        {
            var code = NcclCuda.StreamQuery(_stream);
            if (code == NcclCuda.Success) return;
            if (code != NcclCuda.NotReady) NcclCuda.Check(code, $"cuStreamQuery ({call})");
            var error = asyncError();
            if (error is not NcclResult.Success and not NcclResult.InProgress)
            {
                abort($"{call} failed asynchronously ({NcclException.Name(error)})");
                throw new NcclException($"{call} (asynchronous)", error, NcclNative.Describe(error));
            }
            if (cancellationToken.IsCancellationRequested)
            {
                abort($"{call} was cancelled while in flight");
                throw new OperationCanceledException($"{call} was cancelled; NCCL cannot withdraw one rank from a collective, so the communicator was aborted.", cancellationToken);
            }
            if (timeout != Timeout.InfiniteTimeSpan && Stopwatch.GetElapsedTime(started) > timeout)
            {
                abort($"{call} timed out");
                throw new CommunicatorTimeoutException($"{call} waited longer than {timeout} for the other ranks; the NCCL communicator was aborted.");
            }
            spin.SpinOnce(sleep1Threshold: -1);
        }
    }

    public void Dispose()
    {
        if (_stream == 0) return;
        _ = NcclCuda.CtxSetCurrent(_context);
        if (_send != 0) _ = NcclCuda.MemFree(_send);
        if (_receive != 0) _ = NcclCuda.MemFree(_receive);
        _ = NcclCuda.StreamDestroy(_stream);
        _ = NcclCuda.PrimaryCtxRelease(_device);
        (_stream, _send, _receive) = (0, 0, 0);
    }

    private static void Grow(ref nint buffer, ref long size, long bytes)
    {
        if (bytes <= size) return;
        if (buffer != 0) NcclCuda.Check(NcclCuda.MemFree(buffer), "cuMemFree");
        buffer = 0;
        size = 0;
        nint fresh;
        // At least 256 bytes, so an empty operation still has a valid pointer to hand NCCL.
        var want = Math.Max(256, bytes);
        NcclCuda.Check(NcclCuda.MemAlloc(&fresh, (nuint)want), $"cuMemAlloc({want} bytes)");
        (buffer, size) = (fresh, want);
    }
}
