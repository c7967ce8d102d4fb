using System.Diagnostics;
using DeepSeek.Runtime.Distributed;

namespace DeepSeek.Interop.Mpi;

/// <summary>
/// <see cref="ICommunicator"/> over Open MPI (<c>libmpi.so.40</c>) for processes started by
/// <c>mpirun -np N dotnet app.dll</c>. <see cref="InitializeWorld"/> initialises MPI once and returns
/// <c>MPI_COMM_WORLD</c>; dispose it at the end of a successful run (<c>MPI_Finalize</c>) and call
/// <see cref="Abort"/> on failure, so <c>mpirun</c> ends the other ranks instead of leaving them waiting.
/// </summary>
/// <remarks>
/// Every operation is MPI's non-blocking form (<c>MPI_Iallreduce</c>, <c>MPI_Isend</c>, …) completed by polling
/// <c>MPI_Test</c>, so blocking calls and <c>async</c> calls share one path, honour cancellation and the operation
/// timeout, and several threads may communicate at once (calls are serialised when the library does not provide
/// <c>MPI_THREAD_MULTIPLE</c>). Data movement sends bytes (<c>MPI_BYTE</c>), so any unmanaged element type moves;
/// reductions use MPI's typed sum/max/min. MPI cannot withdraw one rank from a started collective, so a cancelled or
/// timed-out operation breaks this communicator. Errors come back as codes (<c>MPI_ERRORS_RETURN</c>) and become
/// <see cref="MpiException"/> naming the call.
/// </remarks>
public sealed partial class MpiCommunicator : ICommunicator
{
    private static readonly Lock InitGate = new();
    private static bool s_initialized;
    private static Lock? s_callGate;

    private readonly nint _comm;
    private readonly bool _isWorld;
    private readonly TimeSpan _timeout;
    private string? _broken;
    private bool _disposed;
    private readonly List<(nint Request, nint Buffer)> _sends = [];   // buffered sends in flight (MpiCommunicator.PointToPoint.cs)

    private unsafe MpiCommunicator(nint comm, bool isWorld, TimeSpan timeout)
    {
        _comm = comm;
        _isWorld = isWorld;
        _timeout = timeout;
        int rank, size;
        MpiNative.Check(MpiNative.CommRank(comm, &rank), "MPI_Comm_rank");
        MpiNative.Check(MpiNative.CommSize(comm, &size), "MPI_Comm_size");
        Rank = rank;
        Size = size;
    }

    /// <inheritdoc/>
    public int Rank { get; }

    /// <inheritdoc/>
    public int Size { get; }

    /// <summary>The thread support level MPI granted (3 = <c>MPI_THREAD_MULTIPLE</c>); below it calls are serialised.</summary>
    public static int ThreadLevel { get; private set; }

    /// <summary>
    /// Initialises MPI (once per process, asking for <c>MPI_THREAD_MULTIPLE</c>) and returns the world communicator.
    /// </summary>
    /// <exception cref="MpiUnavailableException">Open MPI is not installed, or the process was not started by <c>mpirun</c>.</exception>
    public static unsafe MpiCommunicator InitializeWorld(MpiCommunicatorOptions? options = null)
    {
        _ = MpiLibrary.Handle;
        if (!MpiLibrary.IsLaunched)
            throw new MpiUnavailableException("MPI is installed but this process was not started by an MPI launcher " +
                "(neither OMPI_COMM_WORLD_SIZE nor PMIX_RANK is set). Start it as: mpirun -np N dotnet <app>.dll …");
        var timeout = (options ?? new MpiCommunicatorOptions()).OperationTimeout;
        lock (InitGate)
        {
            if (!s_initialized)
            {
                int provided;
                MpiNative.Check(MpiNative.InitThread(null, null, MpiNative.ThreadMultiple, &provided), "MPI_Init_thread");
                ThreadLevel = provided;
                s_callGate = provided >= MpiNative.ThreadMultiple ? null : new Lock();
                MpiNative.Check(MpiNative.CommSetErrhandler(MpiNative.CommWorld, MpiNative.ErrorsReturn), "MPI_Comm_set_errhandler");
                AppDomain.CurrentDomain.ProcessExit += (_, _) => EndOfProcess();
                s_initialized = true;
            }
        }
        return new MpiCommunicator(MpiNative.CommWorld, isWorld: true, timeout);
    }

    /// <inheritdoc/>
    public unsafe ICommunicator Split(int color, int key)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(color);
        ThrowIfUnusable("Split");
        nint child;
        lock (CallGate) MpiNative.Check(MpiNative.CommSplit(_comm, color, key, &child), "MPI_Comm_split");
        return new MpiCommunicator(child, isWorld: false, _timeout);
    }

    /// <inheritdoc/>
    public void Abort(string reason)
    {
        Console.Error.WriteLine($"error: rank {Rank} of {Size} aborts the MPI job: {reason}");
        Console.Error.Flush();
        unsafe { _ = MpiNative.Abort(MpiNative.CommWorld, 1); }
    }

    /// <summary>Frees a split communicator; disposing the world communicator finalises MPI (after which no MPI call is possible).</summary>
    public unsafe void Dispose()
    {
        if (_disposed) return;
        // Sends still in flight must complete before the communicator (or MPI) goes away; a broken group has no one to receive them.
        if (_broken is null) ReapSends(wait: true, CancellationToken.None);
        _disposed = true;
        if (_isWorld)
        {
            Finish();
        }
        else if (_broken is null)
        {
            var comm = _comm;
            lock (CallGate) _ = MpiNative.CommFree(&comm);
        }
    }

    /// <inheritdoc/>
    public override string ToString() => $"MPI rank {Rank} of {Size}";

    private static Lock CallGate => s_callGate ?? NoGate;

    private static readonly Lock NoGate = new();

    private static unsafe void Finish()
    {
        lock (InitGate)
        {
            int finalized;
            if (!s_initialized || MpiNative.Finalized(&finalized) != MpiNative.Success || finalized != 0) return;
            MpiNative.Check(MpiNative.Finalize(), "MPI_Finalize");
        }
    }

    /// <summary>
    /// A process leaving with a failure code aborts the job so the other ranks do not wait in a collective forever;
    /// a successful one that forgot to dispose finalises, which mpirun requires.
    /// </summary>
    private static unsafe void EndOfProcess()
    {
        int finalized;
        if (MpiNative.Finalized(&finalized) != MpiNative.Success || finalized != 0) return;
        if (Environment.ExitCode != 0) _ = MpiNative.Abort(MpiNative.CommWorld, Environment.ExitCode);
        else Finish();
    }

    private void ThrowIfUnusable(string operation)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_broken is not null)
            throw new CommunicatorException($"{operation} on MPI rank {Rank}: the communicator is broken ({_broken}); end the process so mpirun ends the job.");
    }

    private unsafe bool Poll(ref nint request, string call, MpiStatus* status)
    {
        int flag, code;
        fixed (nint* r = &request)
        {
            lock (CallGate) code = MpiNative.Test(r, &flag, status);
        }
        MpiNative.Check(code, $"MPI_Test ({call})");
        return flag != 0;
    }

    /// <summary>Polls until the request completes; cancellation and the timeout break the communicator.</summary>
    private unsafe void Complete(nint request, string call, CancellationToken cancellationToken, MpiStatus* status = null)
    {
        var started = Stopwatch.GetTimestamp();
        var spin = new SpinWait();
        while (!Poll(ref request, call, status))
        {
            CheckWait(call, started, cancellationToken);
            spin.SpinOnce(sleep1Threshold: -1);
        }
    }

    private async ValueTask CompleteAsync(nint request, string call, CancellationToken cancellationToken, MpiStatus[]? status = null)
    {
        var started = Stopwatch.GetTimestamp();
        for (var attempt = 0; !PollManaged(ref request, call, status); attempt++)
        {
            CheckWait(call, started, cancellationToken);
            if (attempt < 64) await Task.Yield();
            else await Task.Delay(1, CancellationToken.None).ConfigureAwait(false);
        }
    }

    private unsafe bool PollManaged(ref nint request, string call, MpiStatus[]? status)
    {
        if (status is null) return Poll(ref request, call, null);
        fixed (MpiStatus* s = status) return Poll(ref request, call, s);
    }

    private void CheckWait(string call, long started, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            _broken = $"{call} was cancelled while in flight";
            throw new OperationCanceledException($"{call} on MPI rank {Rank} was cancelled; MPI cannot withdraw from it, so the communicator is broken.", cancellationToken);
        }
        if (_timeout != Timeout.InfiniteTimeSpan && Stopwatch.GetElapsedTime(started) > _timeout)
        {
            _broken = $"{call} timed out";
            throw new CommunicatorTimeoutException($"{call} on MPI rank {Rank} of {Size} waited longer than {_timeout} for the other ranks.");
        }
    }
}
