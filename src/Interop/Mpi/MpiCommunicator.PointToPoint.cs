using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace DeepSeek.Interop.Mpi;

public sealed partial class MpiCommunicator
{
    /// <inheritdoc/>
    /// <remarks>
    /// ICommunicator promises that a send does not wait for its receive, but MPI completes a send above the transport's eager
    /// limit (a few KiB on shared memory) only once the receive is posted; two pipeline ranks that each send an activation
    /// or gradient before receiving the other's would then wait for each other forever. So the data is copied into a native
    /// buffer, the MPI_Isend left in flight, and the buffer freed once a later Send or <see cref="Dispose"/> sees it complete.
    /// </remarks>
    public unsafe void Send<T>(ReadOnlySpan<T> data, int destination, int tag, CancellationToken cancellationToken = default) where T : unmanaged
    {
        CheckPeer(destination, tag, "Send");
        var bytes = Bytes<T>(data.Length, "Send");
        var copy = NativeMemory.Alloc((nuint)Math.Max(bytes, 1));
        data.CopyTo(new Span<T>(copy, data.Length));
        nint request;
        try
        {
            request = StartSend((nint)copy, bytes, destination, tag);
        }
        catch
        {
            NativeMemory.Free(copy);
            throw;
        }
        lock (_sends) _sends.Add((request, (nint)copy));
        ReapSends(wait: false, cancellationToken);
    }

    /// <summary>Frees the buffers of completed sends; with <paramref name="wait"/>, first waits for every send in flight.</summary>
    private unsafe void ReapSends(bool wait, CancellationToken cancellationToken)
    {
        lock (_sends)
        {
            for (var i = _sends.Count - 1; i >= 0; i--)
            {
                var (request, buffer) = _sends[i];
                if (wait) Complete(request, "MPI_Isend", cancellationToken);
                else if (!Poll(ref request, "MPI_Isend", null)) continue;
                NativeMemory.Free((void*)buffer);
                _sends.RemoveAt(i);
            }
        }
    }

    /// <inheritdoc/>
    public async ValueTask SendAsync<T>(ReadOnlyMemory<T> data, int destination, int tag, CancellationToken cancellationToken = default) where T : unmanaged
    {
        CheckPeer(destination, tag, "Send");
        using var pin = data.Pin();
        await CompleteAsync(StartSend(Pointer(pin), Bytes<T>(data.Length, "Send"), destination, tag), "MPI_Isend", cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public unsafe int Receive<T>(Span<T> buffer, int source, int tag, CancellationToken cancellationToken = default) where T : unmanaged
    {
        CheckPeer(source, tag, "Receive");
        MpiStatus status;
        fixed (T* p = buffer) Complete(StartReceive((nint)p, Bytes<T>(buffer.Length, "Receive"), source, tag), "MPI_Irecv", cancellationToken, &status);
        return Elements<T>(&status);
    }

    /// <inheritdoc/>
    public async ValueTask<int> ReceiveAsync<T>(Memory<T> buffer, int source, int tag, CancellationToken cancellationToken = default) where T : unmanaged
    {
        CheckPeer(source, tag, "Receive");
        var status = new MpiStatus[1];
        using (var pin = buffer.Pin())
            await CompleteAsync(StartReceive(Pointer(pin), Bytes<T>(buffer.Length, "Receive"), source, tag), "MPI_Irecv", cancellationToken, status).ConfigureAwait(false);
        return ElementsOf<T>(status);
    }

    private unsafe nint StartSend(nint data, int bytes, int destination, int tag)
    {
        nint request;
        lock (CallGate) MpiNative.Check(MpiNative.Isend((void*)data, bytes, MpiNative.Byte, destination, tag, _comm, &request), "MPI_Isend");
        return request;
    }

    private unsafe nint StartReceive(nint buffer, int bytes, int source, int tag)
    {
        nint request;
        lock (CallGate) MpiNative.Check(MpiNative.Irecv((void*)buffer, bytes, MpiNative.Byte, source, tag, _comm, &request), "MPI_Irecv");
        return request;
    }

    private static unsafe int ElementsOf<T>(MpiStatus[] status) where T : unmanaged
    {
        fixed (MpiStatus* s = status) return Elements<T>(s);
    }

    /// <summary>Received element count: MPI_Get_count in bytes over the element size.</summary>
    private static unsafe int Elements<T>(MpiStatus* status) where T : unmanaged
    {
        int bytes;
        MpiNative.Check(MpiNative.GetCount(status, MpiNative.Byte, &bytes), "MPI_Get_count");
        return bytes / Unsafe.SizeOf<T>();
    }

    private void CheckPeer(int peer, int tag, string operation)
    {
        ThrowIfUnusable(operation);
        if ((uint)peer >= (uint)Size) throw new ArgumentOutOfRangeException(nameof(peer), peer, $"{operation}: rank must be in [0, {Size}).");
        ArgumentOutOfRangeException.ThrowIfNegative(tag);
    }
}
