namespace DeepSeek.Runtime.Distributed;

public sealed partial class InProcessCommunicator
{
    /// <inheritdoc/>
    public void Send<T>(ReadOnlySpan<T> data, int destination, int tag, CancellationToken cancellationToken = default) where T : unmanaged
    {
        CheckPeer(destination, tag, nameof(destination), nameof(Send));
        cancellationToken.ThrowIfCancellationRequested();
        _group.Mailbox(destination, Rank, tag).Writer.TryWrite(data.ToArray());
    }

    /// <inheritdoc/>
    public ValueTask SendAsync<T>(ReadOnlyMemory<T> data, int destination, int tag, CancellationToken cancellationToken = default) where T : unmanaged
    {
        Send(data.Span, destination, tag, cancellationToken);
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc/>
    public int Receive<T>(Span<T> buffer, int source, int tag, CancellationToken cancellationToken = default) where T : unmanaged
    {
        CheckPeer(source, tag, nameof(source), nameof(Receive));
        var reader = _group.Mailbox(Rank, source, tag).Reader;
        if (!reader.TryRead(out var message))
        {
            using var wait = WaitToken(cancellationToken);
            try
            {
                message = reader.ReadAsync(wait.Token).AsTask().GetAwaiter().GetResult();
            }
            catch (OperationCanceledException)
            {
                throw WaitFailed($"Receive from rank {source} (tag {tag})", cancellationToken);
            }
        }
        return Deliver(message, buffer, source, tag);
    }

    /// <inheritdoc/>
    public async ValueTask<int> ReceiveAsync<T>(Memory<T> buffer, int source, int tag, CancellationToken cancellationToken = default) where T : unmanaged
    {
        CheckPeer(source, tag, nameof(source), nameof(Receive));
        var reader = _group.Mailbox(Rank, source, tag).Reader;
        if (!reader.TryRead(out var message))
        {
            using var wait = WaitToken(cancellationToken);
            try
            {
                message = await reader.ReadAsync(wait.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                throw WaitFailed($"Receive from rank {source} (tag {tag})", cancellationToken);
            }
        }
        return Deliver(message, buffer.Span, source, tag);
    }

    private int Deliver<T>(Array message, Span<T> buffer, int source, int tag) where T : unmanaged
    {
        if (message is not T[] data)
            throw new CommunicatorException($"Receive on rank {Rank}: the message from rank {source} (tag {tag}) holds {message.GetType().GetElementType()!.Name}, not {typeof(T).Name}.");
        if (data.Length > buffer.Length)
            throw new CommunicatorException($"Receive on rank {Rank}: the message from rank {source} (tag {tag}) has {data.Length} elements but the buffer holds {buffer.Length}.");
        data.CopyTo(buffer);
        return data.Length;
    }

    private void CheckPeer(int peer, int tag, string name, string operation)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        CheckRank(peer, name);
        ArgumentOutOfRangeException.ThrowIfNegative(tag);
        World.ThrowIfBroken(operation, WorldRank);
    }
}
