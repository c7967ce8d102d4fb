namespace DeepSeek.Interop.Cuda;

/// <summary>An in-order queue of copies and kernel launches.</summary>
public sealed class CudaStream : IDisposable
{
    private readonly CudaContext _context;

    internal CudaStream(CudaContext context, CudaStreamHandle handle)
    {
        _context = context;
        Handle = handle;
    }

    /// <summary>The stream's handle.</summary>
    public CudaStreamHandle Handle { get; }

    /// <summary>Waits until everything queued on the stream has run; a kernel fault surfaces here.</summary>
    public void Synchronize()
    {
        _context.MakeCurrent();
        _context.Driver.Check(_context.Driver.StreamSynchronize(Handle.Value), "cuStreamSynchronize",
            _context.LastLaunch is null ? null : $"last kernel launched: {_context.LastLaunch}");
    }

    /// <summary>Destroys the stream (once).</summary>
    public void Dispose() => Handle.Dispose();
}
