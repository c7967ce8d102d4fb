using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;
using System.Threading.Channels;

namespace DeepSeek.Runtime.Generation;

/// <summary>
/// Continuous batching over a <see cref="Generator"/>: a long-lived loop owns one <see cref="KvCache"/> of
/// <see cref="Slots"/> sequence slots and runs steps, each one forward pass over the prompts of the requests that joined
/// since the last step and the next token (and MTP draft) of every running request — so the weights are read once per step
/// for the whole batch. Requests join whenever a slot is free (more requests than slots queue, first come first served) and
/// leave between steps when they finish, are cancelled or stop being read, without disturbing the others. Since the
/// kernels are batch-invariant, each request gets exactly the tokens <see cref="Generator.Generate"/> gives it alone
/// (same sampling seed ⇒ same tokens). An exception in a step faults every request in the batch with that exception; the
/// scheduler frees their slots and goes on with the queue. Thread-safe; <see cref="Dispose"/> stops the loop and fails
/// what is still running or queued with <see cref="ObjectDisposedException"/>.
/// </summary>
public sealed class BatchScheduler : IDisposable
{
    private readonly Generator _generator;
    private readonly Generator.DecodeBatch _batch;
    private readonly Job?[] _slots;
    private readonly Queue<Job> _waiting = new();
    private readonly object _lock = new();   // Monitor: the loop waits on it for work
    private readonly Thread _thread;
    private bool _disposed, _paused;
    private int _active;
    private long _tokensInUse, _peakTokens, _steps, _generated;

    /// <summary>
    /// Starts a scheduler with <paramref name="slots"/> sequence slots of <see cref="Generator.ContextLength"/> tokens each;
    /// the whole KV cache (<see cref="BatchSchedulerStats.CapacityBytes"/>) is allocated here.
    /// </summary>
    public BatchScheduler(Generator generator, int slots)
    {
        ArgumentNullException.ThrowIfNull(generator);
        ArgumentOutOfRangeException.ThrowIfLessThan(slots, 1);
        _generator = generator;
        _batch = new Generator.DecodeBatch(generator, generator.CreateCache(slots));
        _slots = new Job?[slots];
        _thread = new Thread(Loop) { IsBackground = true, Name = "DeepSeek batch scheduler" };
        _thread.Start();
    }

    /// <summary>Sequences decoded together at most.</summary>
    public int Slots => _slots.Length;

    /// <summary>The generator whose model, stops and speculative decoding mode the requests run with.</summary>
    public Generator Generator => _generator;

    /// <summary>Slots, queue, KV cache memory and work so far.</summary>
    public BatchSchedulerStats Stats
    {
        get
        {
            lock (_lock)
                return new BatchSchedulerStats(_slots.Length, _active, _waiting.Count, _batch.Cache.MaxLength, _batch.Cache.BytesPerToken, _tokensInUse, _peakTokens, _steps, _generated);
        }
    }

    /// <summary>Holds the loop before its next step (requests are still admitted); tests use it to make steps deterministic.</summary>
    internal bool Paused
    {
        get
        {
            lock (_lock) return _paused;
        }
        set
        {
            lock (_lock)
            {
                _paused = value;
                Monitor.PulseAll(_lock);
            }
        }
    }

    /// <summary>
    /// Streams the tokens of <paramref name="request"/> (their <see cref="GeneratedToken.Sequence"/> is the slot it ran in).
    /// The request is checked now and queued when enumeration starts; it leaves the batch at the next step once
    /// <paramref name="cancellationToken"/> fires or the enumeration is disposed.
    /// </summary>
    /// <exception cref="ContextLengthException">The prompt plus its <c>MaxTokens</c> does not fit a slot (raised here, before any work).</exception>
    /// <exception cref="ObjectDisposedException">The scheduler was disposed.</exception>
    /// <remarks>
    /// Enumeration throws <see cref="OperationCanceledException"/> when cancelled, and the exception of a failed step for
    /// every request that was in it.
    /// </remarks>
    public IAsyncEnumerable<GeneratedToken> GenerateAsync(GenerationRequest request, CancellationToken cancellationToken = default)
    {
        lock (_lock) ObjectDisposedException.ThrowIf(_disposed, this);
        var state = _generator.CreateState(request, "the request", nameof(request));
        return Run(state, cancellationToken);
    }

    private async IAsyncEnumerable<GeneratedToken> Run(Generator.SequenceState state, [EnumeratorCancellation] CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();
        var job = new Job(state, ct);
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _waiting.Enqueue(job);
            Monitor.PulseAll(_lock);
        }
        try
        {
            var reader = job.Output.Reader;
            while (await reader.WaitToReadAsync(ct).ConfigureAwait(false))
                while (reader.TryRead(out var token))
                {
                    // Tokens may be buffered ahead of the reader: once cancelled, none of them is handed out.
                    ct.ThrowIfCancellationRequested();
                    yield return token;
                }
            job.Fault?.Throw();
        }
        finally
        {
            // Cancelled, faulted, finished or no longer read: the loop frees the slot before its next step.
            job.Abandoned = true;
            lock (_lock) Monitor.PulseAll(_lock);
        }
    }

    private void Loop()
    {
        while (true)
        {
            lock (_lock)
            {
                while (true)
                {
                    if (_disposed)
                    {
                        FailAll(ExceptionDispatchInfo.Capture(new ObjectDisposedException(nameof(BatchScheduler), "the batch scheduler was disposed")));
                        return;
                    }
                    DropAbandoned();
                    Admit();
                    if (_active > 0 && !_paused) break;
                    Monitor.Wait(_lock);
                }
            }

            int emitted;
            try
            {
                emitted = _batch.Step();
            }
            catch (Exception e)
            {
                lock (_lock) FailAll(ExceptionDispatchInfo.Capture(e), includeWaiting: false);
                continue;
            }

            lock (_lock)
            {
                _steps++;
                _generated += emitted;
                _peakTokens = Math.Max(_peakTokens, _batch.Cache.TokensInUse);
                for (var i = 0; i < emitted; i++)
                {
                    var token = _batch.Emitted[i];
                    var job = _slots[token.Sequence]!;
                    job.Output.Writer.TryWrite(token);
                    if (token.Finish is null) continue;
                    Free(token.Sequence);
                    job.Output.Writer.TryComplete();
                }
                _tokensInUse = _batch.Cache.TokensInUse;
            }
        }
    }

    /// <summary>Frees the slots of requests that were cancelled or are no longer read; drops such requests from the queue.</summary>
    private void DropAbandoned()
    {
        for (var s = 0; s < _slots.Length; s++)
        {
            if (_slots[s] is not { } job || !job.IsGone) continue;
            Free(s);
            job.Complete(job.Token.IsCancellationRequested ? ExceptionDispatchInfo.Capture(new OperationCanceledException(job.Token)) : null);
        }
        _tokensInUse = _batch.Cache.TokensInUse;
    }

    private void Admit()
    {
        var slot = 0;
        while (_waiting.Count > 0 && _active < _slots.Length)
        {
            var job = _waiting.Dequeue();
            if (job.IsGone)
            {
                job.Complete(job.Token.IsCancellationRequested ? ExceptionDispatchInfo.Capture(new OperationCanceledException(job.Token)) : null);
                continue;
            }
            while (_slots[slot] is not null) slot++;
            _batch.Join(slot, job.State);
            _slots[slot] = job;
            _active++;
        }
    }

    private void Free(int slot)
    {
        _batch.Leave(slot);
        _slots[slot] = null;
        _active--;
    }

    private void FailAll(ExceptionDispatchInfo fault, bool includeWaiting = true)
    {
        for (var s = 0; s < _slots.Length; s++)
        {
            if (_slots[s] is not { } job) continue;
            Free(s);
            job.Complete(fault);
        }
        while (includeWaiting && _waiting.TryDequeue(out var waiting)) waiting.Complete(fault);
        _tokensInUse = _batch.Cache.TokensInUse;
    }

    /// <summary>Stops the loop (after the step in progress) and fails the requests still running or queued.</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed) return;
            _disposed = true;
            Monitor.PulseAll(_lock);
        }
        if (Thread.CurrentThread != _thread) _thread.Join();
    }

    private sealed class Job(Generator.SequenceState state, CancellationToken token)
    {
        public Generator.SequenceState State { get; } = state;

        public CancellationToken Token { get; } = token;

        public Channel<GeneratedToken> Output { get; } = Channel.CreateUnbounded<GeneratedToken>(
            new UnboundedChannelOptions { SingleReader = true, SingleWriter = true, AllowSynchronousContinuations = false });

        public volatile bool Abandoned;

        /// <summary>Set before <see cref="Output"/> completes; the reader rethrows it.</summary>
        public ExceptionDispatchInfo? Fault { get; private set; }

        public bool IsGone => Abandoned || Token.IsCancellationRequested;

        public void Complete(ExceptionDispatchInfo? fault)
        {
            Fault = fault;
            Output.Writer.TryComplete();
        }
    }
}
