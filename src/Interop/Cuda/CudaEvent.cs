namespace DeepSeek.Interop.Cuda;

/// <summary>A marker in a stream; two recorded events give the GPU time between them.</summary>
public sealed class CudaEvent : IDisposable
{
    private readonly CudaContext _context;

    internal CudaEvent(CudaContext context, CudaEventHandle handle)
    {
        _context = context;
        Handle = handle;
    }

    /// <summary>The event's handle.</summary>
    public CudaEventHandle Handle { get; }

    /// <summary>Records the event on <paramref name="stream"/> (null: the legacy default stream).</summary>
    public void Record(CudaStream? stream = null)
    {
        _context.MakeCurrent();
        _context.Driver.Check(_context.Driver.EventRecord(Handle.Value, stream?.Handle.Value ?? 0), "cuEventRecord");
    }

    /// <summary>Waits until the work before the event has run.</summary>
    public void Synchronize()
    {
        _context.MakeCurrent();
        _context.Driver.Check(_context.Driver.EventSynchronize(Handle.Value), "cuEventSynchronize");
    }

    /// <summary>Milliseconds of GPU time from <paramref name="start"/> to <paramref name="end"/> (both recorded and complete).</summary>
    public static float ElapsedMilliseconds(CudaEvent start, CudaEvent end)
    {
        ArgumentNullException.ThrowIfNull(start);
        ArgumentNullException.ThrowIfNull(end);
        start._context.MakeCurrent();
        start._context.Driver.Check(start._context.Driver.EventElapsedTime(out var ms, start.Handle.Value, end.Handle.Value), "cuEventElapsedTime");
        return ms;
    }

    /// <summary>Destroys the event (once).</summary>
    public void Dispose() => Handle.Dispose();
}
