using System.Runtime.CompilerServices;

namespace DeepSeek.Interop.Mpi;

public sealed partial class MpiCommunicator
{
    /// <inheritdoc/>
    public unsafe void Send<T>(ReadOnlySpan<T> data, int destination, int tag, CancellationToken cancellationToken = default) where T : unmanaged
    {
        CheckPeer(destination, tag, "Send");
        fixed (T* p = data) Complete(StartSend((nint)p, Bytes<T>(data.Length, "Send"), destination, tag), "MPI_Isend", cancellationToken);
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
