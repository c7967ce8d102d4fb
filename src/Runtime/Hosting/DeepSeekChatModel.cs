using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;
using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Compute;
using DeepSeek.Runtime.Distributed;
using DeepSeek.Runtime.Diagnostics;
using DeepSeek.Runtime.Generation;
using DeepSeek.Runtime.Model;
using DeepSeek.Runtime.Tokenization;
using Microsoft.Extensions.Logging;

namespace DeepSeek.Runtime.Hosting;

/// <summary>
/// A checkpoint folder loaded for chat on the configured compute backend: <see cref="Checkpoint"/> (memory-mapped) + <see cref="WeightMap"/> +
/// <see cref="Transformer"/> + <see cref="BpeTokenizer"/> + the chat format of <c>tokenizer_config.json</c>. Admitted requests
/// run through one <see cref="BatchScheduler"/> (continuous batching): concurrent requests share decode steps, so the weights
/// are read once per step for all of them, and a request joins or leaves between steps. Its
/// <see cref="ChatModelBase.MaxConcurrentSequences"/> slots share one KV cache, allocated at the first request
/// (<see cref="Batching"/> reports its size and use). Each request's tokens are exactly those it would get alone.
/// </summary>
public sealed partial class DeepSeekChatModel : ChatModelBase
{
    private readonly Checkpoint _checkpoint;
    private readonly IComputeBackend _backend;
    private readonly Generator _generator;
    private readonly Lock _schedulerLock = new();
    private BatchScheduler? _scheduler;
    private bool _disposed;

    private DeepSeekChatModel(ChatModelInfo info, DeepSeekModelOptions options, Checkpoint checkpoint, IComputeBackend backend, Generator generator,
        ILoggerFactory? loggerFactory, IMeterFactory? meterFactory)
        : base(info, options, loggerFactory, meterFactory)
    {
        _checkpoint = checkpoint;
        _backend = backend;
        _generator = generator;
    }

    /// <summary>
    /// The batch scheduler's slots, KV cache memory (bytes per token, capacity, in use) and steps so far; all zero before
    /// the first request.
    /// </summary>
    public BatchSchedulerStats Batching => Volatile.Read(ref _scheduler)?.Stats ?? default;

    /// <inheritdoc />
    protected internal override BatchSchedulerStats? BatchingStats => Volatile.Read(ref _scheduler)?.Stats;

    /// <summary>
    /// The scheduler, created at the first request so that loading a model to inspect it allocates no KV cache; a creation
    /// that failed (the cache did not fit in memory) is tried again by the next request rather than remembered. Tests pause
    /// it to make steps deterministic.
    /// </summary>
    internal BatchScheduler Scheduler
    {
        get
        {
            if (Volatile.Read(ref _scheduler) is { } created) return created;
            lock (_schedulerLock)
            {
                ObjectDisposedException.ThrowIf(_disposed, this);
                return _scheduler ??= new BatchScheduler(_generator, MaxConcurrentSequences);
            }
        }
    }

    /// <summary>Loads <paramref name="modelDirectory"/> with <paramref name="options"/> (its <see cref="DeepSeekModelOptions.ModelPath"/> is ignored).</summary>
    /// <exception cref="BackendNotSupportedException"><see cref="DeepSeekModelOptions.Backend"/> is unknown, or <c>cuda</c> without DeepSeek.Interop deployed.</exception>
    /// <remarks>With <c>cuda</c>, the backend's own exceptions come through as they are (<c>CudaUnavailableException</c> without a driver, <c>CudaException</c> for driver failures).</remarks>
    /// <exception cref="CheckpointFormatException">A weight file is damaged.</exception>
    /// <exception cref="ModelConfigException"><c>config.json</c> is invalid.</exception>
    /// <exception cref="TokenizerFormatException"><c>tokenizer.json</c> is invalid.</exception>
    /// <exception cref="ChatTemplateException"><c>tokenizer_config.json</c> has no supported chat template.</exception>
    public static DeepSeekChatModel Load(string modelDirectory, DeepSeekModelOptions? options = null, ILoggerFactory? loggerFactory = null, IMeterFactory? meterFactory = null) =>
        LoadCore(modelDirectory, options, moeLayers: null, loggerFactory, meterFactory);

    /// <summary>
    /// Loads <paramref name="modelDirectory"/> as rank 0 of an expert-parallel group: every MoE layer binds only this rank's
    /// routed experts and runs with the other ranks, which must be in <see cref="ExpertParallelServing.ServeExperts"/> on the
    /// same checkpoint. Generates exactly what <see cref="Load"/> does. The group stays the caller's: call
    /// <see cref="ExpertParallelServing.Stop"/> after the last request, then dispose the communicator.
    /// </summary>
    /// <exception cref="ArgumentException">This is not rank 0 of <paramref name="experts"/>, or the model's routed experts do not divide over the group.</exception>
    /// <inheritdoc cref="Load" path="/exception"/>
    public static DeepSeekChatModel LoadExpertParallel(string modelDirectory, ExpertParallelServing experts, DeepSeekModelOptions? options = null,
        ILoggerFactory? loggerFactory = null, IMeterFactory? meterFactory = null)
    {
        ArgumentNullException.ThrowIfNull(experts);
        if (!experts.IsLeader)
            throw new ArgumentException($"rank {experts.Group.Rank} of the expert-parallel group serves experts (ExpertParallelServing.ServeExperts); only rank 0 loads the chat model", nameof(experts));
        return LoadCore(modelDirectory, options, experts.CreateLayer, loggerFactory, meterFactory);
    }

    /// <summary>See <see cref="DeepSeekModelOptions.Speculative"/>: MTP where a step streams more weights than the caches hold, or on a GPU.</summary>
    private static SpeculativeDecoding DefaultSpeculative(Checkpoint checkpoint, IComputeBackend backend) =>
        checkpoint.Config.NumNextNPredictLayers == 0 || backend is not Compute.Cpu.CpuBackend
            || ModelCost.For(checkpoint).DecodeBytesPerToken >= DeepSeekModelOptions.MtpMinimumDecodeBytes
            ? SpeculativeDecoding.Auto
            : SpeculativeDecoding.None;

    private static DeepSeekChatModel LoadCore(string modelDirectory, DeepSeekModelOptions? options, MoeLayerFactory? moeLayers, ILoggerFactory? loggerFactory, IMeterFactory? meterFactory)
    {
        ArgumentException.ThrowIfNullOrEmpty(modelDirectory);
        options ??= new DeepSeekModelOptions();
        var backendName = (options.Backend ?? "cpu").ToLowerInvariant();
        IComputeBackendFactory factory;
        try
        {
            factory = ComputeBackends.Find(backendName);
        }
        catch (Exception e) when (e is ArgumentException or NotSupportedException)
        {
            throw new BackendNotSupportedException(backendName, e.Message);
        }
        ArgumentOutOfRangeException.ThrowIfNegative(options.Threads);

        factory.EnsureAvailable();   // no NVIDIA driver: fail before mapping a single shard
        var clock = Stopwatch.StartNew();
        var dir = Path.GetFullPath(modelDirectory);
        var checkpoint = Checkpoint.Open(dir);
        IComputeBackend? backend = null;
        try
        {
            var weights = WeightMap.Bind(checkpoint);
            var config = checkpoint.Config;
            var tokenizer = BpeTokenizer.FromDirectory(dir);
            var format = ChatFormats.FromTokenizerConfig(dir);
            var context = Math.Min(options.ContextLength, config.MaxPositionEmbeddings);
            backend = factory.Create(options.Threads);
            var transformer = new Transformer(backend, weights, context, MlaMode.Absorbed, moeLayers);
            var eos = tokenizer.EosTokenId is { } e ? config.EosTokenIds.Append(e).Distinct() : config.EosTokenIds;
            var speculative = options.Speculative ?? DefaultSpeculative(checkpoint, backend);
            var generator = new Generator(transformer, () => new TokenizerTextDecoder(tokenizer), eos, context, tokenizer.VocabSize, speculative);
            if (options.WarmUp) generator.WarmUp();
            var id = string.IsNullOrWhiteSpace(options.ModelId) ? Path.GetFileName(dir.TrimEnd(Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar)) : options.ModelId;
            var info = new ChatModelInfo(id, config, context, tokenizer, format, backend.Name);
            var model = new DeepSeekChatModel(info, options, checkpoint, backend, generator, loggerFactory, meterFactory);
            LogLoaded(model.Logger, id, dir, config.NumHiddenLayers, context, format.Family, clock.Elapsed.TotalMilliseconds);
            return model;
        }
        catch
        {
            backend?.Dispose();
            checkpoint.Dispose();
            throw;
        }
    }

    /// <inheritdoc />
    protected override async IAsyncEnumerable<GeneratedTextToken> GenerateCoreAsync(IReadOnlyList<int> promptTokens, SamplingOptions options,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var t in Scheduler.GenerateAsync(new GenerationRequest(promptTokens, options), cancellationToken).ConfigureAwait(false))
            yield return new GeneratedTextToken(t.TokenId, t.Text, t.Finish) { Speculation = t.Speculation };
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            lock (_schedulerLock)
            {
                _disposed = true;
                _scheduler?.Dispose();   // stops its loop before the backend goes
            }
            _backend.Dispose();
            _checkpoint.Dispose();
        }
        base.Dispose(disposing);
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Loaded {Model} from {Directory}: {Layers} layers, {ContextLength}-token context, chat format {Format}, in {ElapsedMs:F0} ms")]
    private static partial void LogLoaded(ILogger logger, string model, string directory, int layers, int contextLength, string format, double elapsedMs);
}
