using System.Diagnostics;
using System.Numerics.Tensors;
using DeepSeek.Runtime.Training;
using DeepSeek.Runtime.Training.Layers;
using DeepSeek.Runtime.Training.Optimization;
using DeepSeek.Runtime.Training.Sft;

namespace DeepSeek.Runtime.Distributed;

/// <summary>
/// Supervised fine-tuning with data parallelism and ZeRO-1 (Rajbhandari et al., stage 1): every rank holds the whole
/// model, runs its share of each global batch, and the gradients are reduce-scattered so that each rank owns the summed
/// gradient of one contiguous shard of the flattened parameters; the optimizer state (AdamW moments) exists only for
/// that shard; each rank updates its shard and the shards are all-gathered back into every rank's weights.
/// </summary>
/// <remarks>
/// The result is the single-process <see cref="SftTrainer"/> with the same global batch (same data order, loss means
/// over the whole batch, clipping by the global norm, router-bias updates from the global expert load), up to the
/// rounding of the gradient summation order. Only rank 0 reports progress and writes checkpoints (moments are gathered
/// for it), so a resumable checkpoint looks exactly like a single-process one. Every rank must call
/// <see cref="Train"/> with the same data and options.
/// </remarks>
public sealed class DataParallelSftTrainer
{
    private readonly ICommunicator _comm;
    private readonly ModelParameters<float> _p;
    private readonly ModelParameters<float> _grads;
    private readonly TrainableModel<float> _model;
    private readonly SftOptions _options;
    private readonly string? _sourceDirectory;
    private readonly List<(string Name, float[] W, float[] G)> _tensors;
    private readonly int _shard;
    private readonly float[] _flat;
    private readonly float[] _shardGrad;
    private readonly float[] _shardParam;
    private readonly float[] _m;
    private readonly float[] _v;
    private readonly List<double> _losses = [];
    private TrainerPosition _position = new(0, 0, 0);

    /// <summary>Prepares rank <c>data.Rank</c>'s part of training <paramref name="parameters"/> (identical on every rank).</summary>
    /// <param name="parameters">The fp32 master weights; every rank must start from the same values.</param>
    /// <param name="sequenceLength">Tokens per training sequence.</param>
    /// <param name="options">Options, as for <see cref="SftTrainer"/>; the batch size is the global batch and must divide by the ranks.</param>
    /// <param name="data">The data-parallel group.</param>
    /// <param name="sourceDirectory">Folder whose tokenizer files are copied into checkpoints.</param>
    public DataParallelSftTrainer(ModelParameters<float> parameters, int sequenceLength, SftOptions options, ICommunicator data, string? sourceDirectory = null)
        : this(parameters, sequenceLength, options, data, experts: null, sourceDirectory)
    {
    }

    /// <summary>
    /// As the data-parallel constructor, with expert parallelism: the routed experts of every MoE layer are sharded over
    /// <paramref name="experts"/> (<see cref="ExpertParallelMoeLayer{T}"/>: tokens go to their experts' ranks and back by
    /// all-to-all), a sub-group of <paramref name="data"/> such as <see cref="SplitExpertGroups"/> makes. Every rank of
    /// <paramref name="data"/> still runs its own share of the batch; the expert groups partition the data group
    /// (world = E × D), so summing the gradients over the data group sums each expert's over the ranks that hold it.
    /// Collective over <paramref name="data"/> (it checks the layout); the caller keeps and disposes <paramref name="experts"/>.
    /// </summary>
    /// <remarks>
    /// Each rank computes only its own experts, and its gradients of the other experts stay zero; every rank still keeps
    /// (and, after the ZeRO-1 all-gather, holds updated) full-size weights, so this shards expert compute, not memory.
    /// </remarks>
    /// <param name="parameters">The fp32 master weights; every rank must start from the same values.</param>
    /// <param name="sequenceLength">Tokens per training sequence.</param>
    /// <param name="options">Options, as for <see cref="SftTrainer"/>; the batch size is the global batch and must divide by the ranks.</param>
    /// <param name="data">The data-parallel group (every rank of the job).</param>
    /// <param name="experts">This rank's expert group, or null (or one rank) for no expert parallelism.</param>
    /// <param name="sourceDirectory">Folder whose tokenizer files are copied into checkpoints.</param>
    /// <exception cref="ArgumentException">The expert groups do not divide the data group or the experts, or the model has no routed experts.</exception>
    public DataParallelSftTrainer(ModelParameters<float> parameters, int sequenceLength, SftOptions options, ICommunicator data, ICommunicator? experts, string? sourceDirectory = null)
    {
        _p = parameters ?? throw new ArgumentNullException(nameof(parameters));
        _options = options ?? throw new ArgumentNullException(nameof(options));
        _comm = data ?? throw new ArgumentNullException(nameof(data));
        options.Validate();
        if (options.BatchSize % data.Size != 0)
            throw new ArgumentException($"Data parallelism over {data.Size} ranks needs a global batch size divisible by {data.Size}; got {options.BatchSize}.", nameof(options));
        var config = parameters.Config;
        MoeBranchFactory<float>? moe = null;
        if (experts is not null && experts.Size > 1)
        {
            CheckExpertLayout(config, data, experts);
            moe = (_, tokens, alpha) => new ExpertParallelMoeLayer<float>(config, experts, tokens, alpha);
        }
        ExpertParallelSize = experts?.Size ?? 1;
        _model = new TrainableModel<float>(parameters, sequenceLength, options.BalanceLossAlpha, options.RecomputeActivations, moe);
        _grads = ModelParameters<float>.ZerosLike(parameters);
        _tensors = parameters.Tensors().Zip(_grads.Tensors(), (w, g) => (w.Name, w.Values, g.Values)).ToList();
        var total = _tensors.Sum(t => (long)t.W.Length);
        _shard = checked((int)((total + data.Size - 1) / data.Size));
        _flat = new float[checked(_shard * data.Size)];
        _shardGrad = new float[_shard];
        _shardParam = new float[_shard];
        _m = new float[_shard];
        _v = new float[_shard];
        SequenceLength = sequenceLength;
        _sourceDirectory = sourceDirectory;
    }

    /// <summary>Tokens per training sequence.</summary>
    public int SequenceLength { get; }

    /// <summary>Ranks the routed experts are sharded over (1: every rank runs every expert).</summary>
    public int ExpertParallelSize { get; }

    /// <summary>
    /// Splits <paramref name="world"/> into expert groups of <paramref name="expertParallel"/> consecutive ranks (world =
    /// E × D; on multi-GPU nodes keep E within a node so the all-to-all stays there). Collective; dispose the result.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="expertParallel"/> is below 1 or does not divide the ranks.</exception>
    public static ICommunicator SplitExpertGroups(ICommunicator world, int expertParallel)
    {
        ArgumentNullException.ThrowIfNull(world);
        if (expertParallel < 1 || world.Size % expertParallel != 0)
            throw new ArgumentException($"--expert-parallel {expertParallel} must be at least 1 and divide the {world.Size} ranks (world = E × D: E ranks share the experts, D = world / E copies of each expert).");
        return world.Split(world.Rank / expertParallel, world.Rank);
    }

    /// <summary>The weights (identical on every rank after each step).</summary>
    public ModelParameters<float> Parameters => _p;

    /// <summary>The loss of every step so far (of the global batch).</summary>
    public IReadOnlyList<double> Losses => _losses;

    /// <summary>Parameters whose optimizer state this rank holds (the ZeRO-1 shard; the last rank's may include padding).</summary>
    public int ShardLength => _shard;

    /// <summary>
    /// Runs the steps up to <see cref="SftOptions.Steps"/>; returns one entry per step (the global batch's losses) on
    /// every rank. Collective. Cancellation is honoured between micro-batches and breaks the group (the other ranks
    /// end with <see cref="RankFailedException"/> or, under MPI, the job ends); checkpoints already written stay intact.
    /// </summary>
    public IReadOnlyList<TrainingProgress> Train(IReadOnlyList<TrainingSequence> data, IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (data.Count == 0) throw new ArgumentException("no training examples", nameof(data));
        var o = _options;
        var schedule = new LearningRateSchedule(o.LearningRate, o.WarmupSteps, o.Steps, o.MinLearningRate ?? o.LearningRate);
        var order = new SftDataOrder(data.Count, o.Shuffle, o.Seed, _position.Epoch, _position.Cursor);
        var lambda = _p.Mtp.Length > 0 ? (float)o.MtpWeight : 0f;
        var history = new List<TrainingProgress>(o.Steps);
        var loads = _model.ExpertLoad.Select(l => l is null ? null : new int[l.Length]).ToArray();
        var local = o.BatchSize / _comm.Size;

        for (var step = _position.Step + 1; step <= o.Steps; step++)
        {
            var clock = Stopwatch.StartNew();
            foreach (var (_, _, g) in _tensors) Array.Clear(g);
            foreach (var l in loads) if (l is not null) Array.Clear(l);
            var losses = new double[3];
            for (var k = 0; k < o.GradientAccumulation; k++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var batch = Enumerable.Range(0, o.BatchSize).Select(_ => data[order.Next()]).ToList();
                var mine = batch.GetRange(_comm.Rank * local, local);
                var l = _model.ForwardBackward(mine, _grads, lambda, BatchTotals.Of(batch));
                losses[0] += l.Total;
                losses[1] += l.Main;
                losses[2] += l.Mtp;
                for (var layer = 0; layer < loads.Length; layer++)
                    if (loads[layer] is { } sum) for (var e = 0; e < sum.Length; e++) sum[e] += _model.ExpertLoad[layer]![e];
            }
            var k1 = o.GradientAccumulation;

            // ZeRO-1: each rank receives the summed gradient of its shard only.
            Flatten(t => t.G);
            _comm.ReduceScatter<float>(_flat, _shardGrad, ReduceOp.Sum, cancellationToken);
            if (k1 > 1) TensorPrimitives.Multiply(_shardGrad, 1f / k1, _shardGrad);
            var norm = ClipGlobalNorm(o.MaxGradNorm, cancellationToken);
            var lr = schedule.At(step);
            Flatten(t => t.W);
            _flat.AsSpan(_comm.Rank * _shard, _shard).CopyTo(_shardParam);
            if (o.Optimizer == OptimizerKind.Sgd) Sgd.Step(_shardParam, _shardGrad, lr);
            else AdamW.Step(_shardParam, _shardGrad, _m, _v, step, lr, o.AdamW);
            _comm.AllGather<float>(_shardParam, _flat, cancellationToken);
            Unflatten(_flat, (t, values) => values.CopyTo(t.W));

            foreach (var l in loads) if (l is not null) _comm.AllReduce<int>(l, ReduceOp.Sum, cancellationToken);
            for (var layer = 0; layer < loads.Length; layer++)
                if (loads[layer] is { } load && _p.RouterBias[layer] is { } bias) AuxLossFreeBalancer.Update(bias, load, o.BiasUpdateSpeed);
            _comm.AllReduce<double>(losses, ReduceOp.Sum, cancellationToken);

            var imbalance = loads.Where(l => l is not null).Select(l => AuxLossFreeBalancer.Imbalance(l)).DefaultIfEmpty(0).Max();
            var tokens = (double)o.BatchSize * k1 * SequenceLength;
            var report = new TrainingProgress(step, o.Steps, losses[0] / k1, losses[1] / k1, losses[2] / k1, lr, norm, tokens / clock.Elapsed.TotalSeconds, imbalance);
            history.Add(report);
            _losses.Add(report.Loss);
            _position = new TrainerPosition(step, order.Epoch, order.Cursor);
            if (o.CheckpointDirectory is { } root && ((o.CheckpointEvery > 0 && step % o.CheckpointEvery == 0) || step == o.Steps))
                SaveCheckpoint(root, cancellationToken);
            if (_comm.Rank == 0) progress?.Report(report);
        }
        return history;
    }

    /// <summary>The expert groups must split the data group evenly, each holding every expert once.</summary>
    private static void CheckExpertLayout(Checkpoints.ModelConfig config, ICommunicator data, ICommunicator experts)
    {
        var e = experts.Size;
        // First every rank reports (its expert-group size, its rank in it), so that a rank with a different layout fails
        // here with the others instead of leaving them in a collective: all sizes equal, each position held by D ranks.
        var layout = new int[2 * data.Size];
        data.AllGather<int>([e, experts.Rank], layout);
        if (config.NRoutedExperts == 0)
            throw new ArgumentException($"Expert parallelism over {e} ranks needs a model with routed experts; {config.ModelType} has none (n_routed_experts = 0).");
        if (config.NRoutedExperts % e != 0)
            throw new ArgumentException($"Expert parallelism needs the {config.NRoutedExperts} routed experts (n_routed_experts) to divide evenly over {e} ranks.");
        if (data.Size % e != 0)
            throw new ArgumentException($"Expert groups of {e} ranks cannot split the {data.Size} data-parallel ranks evenly (world = E × D).");
        var perPosition = new int[e];
        for (var r = 0; r < data.Size; r++)
        {
            if (layout[2 * r] != e)
                throw new ArgumentException($"Rank {r} has an expert group of {layout[2 * r]} ranks and rank {data.Rank} one of {e}: every rank needs the same --expert-parallel.");
            perPosition[layout[2 * r + 1]]++;
        }
        if (perPosition.Any(n => n != data.Size / e))
            throw new ArgumentException($"The expert groups do not partition the {data.Size} data-parallel ranks into groups of {e}: split them with {nameof(SplitExpertGroups)}.");
    }

    /// <summary>‖g‖₂ over the whole (sharded) gradient, and clipping as <see cref="GradientClipping.ClipGlobalNorm"/>.</summary>
    private double ClipGlobalNorm(double maxNorm, CancellationToken cancellationToken)
    {
        var sumSquares = new double[1];
        foreach (var v in _shardGrad) sumSquares[0] += (double)v * v;
        _comm.AllReduce<double>(sumSquares, ReduceOp.Sum, cancellationToken);
        var norm = Math.Sqrt(sumSquares[0]);
        if (maxNorm > 0 && norm > maxNorm) TensorPrimitives.Multiply(_shardGrad, (float)(maxNorm / (norm + 1e-6)), _shardGrad);
        return norm;
    }

    /// <summary>Gathers the moments to every rank (collective) and lets rank 0 write the usual resumable checkpoint.</summary>
    private void SaveCheckpoint(string root, CancellationToken cancellationToken)
    {
        var adam = new Dictionary<string, (float[] M, float[] V)>();
        if (_options.Optimizer == OptimizerKind.AdamW)
        {
            var m = new float[_flat.Length];
            var v = new float[_flat.Length];
            _comm.AllGather<float>(_m, m, cancellationToken);
            _comm.AllGather<float>(_v, v, cancellationToken);
            var at = 0;
            foreach (var (name, w, _) in _tensors)
            {
                adam[name] = (m.AsSpan(at, w.Length).ToArray(), v.AsSpan(at, w.Length).ToArray());
                at += w.Length;
            }
        }
        if (_comm.Rank == 0) TrainingCheckpoint.Save(root, _position, _p, adam, _losses, _sourceDirectory, null);
        _comm.Barrier(cancellationToken);
    }

    private void Flatten(Func<(string Name, float[] W, float[] G), float[]> pick)
    {
        var at = 0;
        foreach (var t in _tensors)
        {
            var values = pick(t);
            values.CopyTo(_flat, at);
            at += values.Length;
        }
        _flat.AsSpan(at).Clear();
    }

    private void Unflatten(float[] flat, Action<(string Name, float[] W, float[] G), ReadOnlySpan<float>> take)
    {
        var at = 0;
        foreach (var t in _tensors)
        {
            take(t, flat.AsSpan(at, t.W.Length));
            at += t.W.Length;
        }
    }
}
