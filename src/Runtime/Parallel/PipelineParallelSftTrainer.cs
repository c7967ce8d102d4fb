using System.Diagnostics;
using System.Numerics.Tensors;
using DeepSeek.Runtime.Distributed.Pipeline;
using DeepSeek.Runtime.Training;
using DeepSeek.Runtime.Training.Optimization;
using DeepSeek.Runtime.Training.Sft;

namespace DeepSeek.Runtime.Distributed;

/// <summary>
/// Supervised fine-tuning with pipeline parallelism: the decoder is cut into one contiguous stage per rank of the pipeline group
/// (<see cref="TransformerPipeline{T}"/>; 1F1B or DualPipe), each sequence of the global batch is one micro-batch, and every rank
/// clips and updates only the tensors of its stages (both DualPipe copies of a stage update it identically). Before each
/// checkpoint and at the end, each stage's weights (and AdamW moments) are gathered to rank 0, which alone reports progress and
/// writes files, so checkpoints look exactly like single-process ones. With a data group as well (world = P × D, see
/// <see cref="SplitGroups"/>), D pipeline replicas each run their share of the global batch and the gradients of every stage are
/// summed over the replicas that hold it.
/// </summary>
/// <remarks>
/// The result is the single-process <see cref="SftTrainer"/> with the same global batch (data order, loss means over the whole
/// batch, clipping by the global norm, router-bias updates from the global expert load), up to the rounding of the gradient
/// summation order. <see cref="SftOptions.RecomputeActivations"/> is implied: a stage keeps only its micro-batches' inputs.
/// Every rank must call <see cref="Train"/> with the same data and options.
/// </remarks>
public sealed class PipelineParallelSftTrainer
{
    private readonly ICommunicator _comm;
    private readonly ICommunicator? _data;                              // the replicas of this rank's stage(s), or null
    private readonly ModelParameters<float> _p;
    private readonly ModelParameters<float> _grads;
    private readonly TransformerPipeline<float> _pipeline;
    private readonly SftOptions _options;
    private readonly string? _sourceDirectory;
    private readonly (string Name, float[] W, float[] G)[] _held;      // the tensors of this rank's stages
    private readonly Dictionary<string, (float[] M, float[] V)> _adam = [];
    private readonly List<double> _losses = [];
    private TrainerPosition _position = new(0, 0, 0);

    /// <summary>Prepares this rank's stages of <paramref name="parameters"/> (the same values on every rank).</summary>
    /// <param name="parameters">The fp32 master weights; every rank must start from the same values.</param>
    /// <param name="sequenceLength">Tokens per training sequence.</param>
    /// <param name="options">Options, as for <see cref="SftTrainer"/>; the batch size is the global batch and the number of micro-batches.</param>
    /// <param name="pipeline">The pipeline group: one stage per rank.</param>
    /// <param name="schedule">1F1B, or DualPipe (an even number of ranks, a batch size that is even and at least 2 × ranks).</param>
    /// <param name="sourceDirectory">Folder whose tokenizer files are copied into checkpoints.</param>
    /// <exception cref="ArgumentException">The layout does not fit the model or the batch size does not fit the schedule.</exception>
    public PipelineParallelSftTrainer(ModelParameters<float> parameters, int sequenceLength, SftOptions options, ICommunicator pipeline,
        PipelineScheduleKind schedule, string? sourceDirectory = null)
        : this(parameters, sequenceLength, options, pipeline, data: null, schedule, sourceDirectory)
    {
    }

    /// <summary>
    /// As the pipeline-only constructor, with data parallelism across <paramref name="data"/>.Size pipeline replicas: each runs
    /// <c>BatchSize / D</c> sequences of every global batch (its micro-batches) and the gradients are all-reduced over
    /// <paramref name="data"/>, the ranks that run the same stages. The caller keeps and disposes both groups.
    /// </summary>
    /// <param name="parameters">The fp32 master weights; every rank must start from the same values.</param>
    /// <param name="sequenceLength">Tokens per training sequence.</param>
    /// <param name="options">Options, as for <see cref="SftTrainer"/>; the batch size is the global batch and must divide by the replicas.</param>
    /// <param name="pipeline">This rank's pipeline group (one stage per rank).</param>
    /// <param name="data">The ranks running this rank's stages in the other replicas, or null (or one rank) for one replica.</param>
    /// <param name="schedule">1F1B or DualPipe; DualPipe needs an even P and BatchSize / D even and at least 2P.</param>
    /// <param name="sourceDirectory">Folder whose tokenizer files are copied into checkpoints.</param>
    /// <exception cref="ArgumentException">The layout does not fit the model or the batch size does not fit the replicas or the schedule.</exception>
    public PipelineParallelSftTrainer(ModelParameters<float> parameters, int sequenceLength, SftOptions options, ICommunicator pipeline, ICommunicator? data,
        PipelineScheduleKind schedule, string? sourceDirectory = null)
    {
        _p = parameters ?? throw new ArgumentNullException(nameof(parameters));
        _options = options ?? throw new ArgumentNullException(nameof(options));
        _comm = pipeline ?? throw new ArgumentNullException(nameof(pipeline));
        _data = data is { Size: > 1 } ? data : null;
        options.Validate();
        var replicas = _data?.Size ?? 1;
        if (options.BatchSize % replicas != 0)
            throw new ArgumentException($"{replicas} pipeline replicas (world = P × D) need a global --batch-size divisible by {replicas}; got {options.BatchSize}.", nameof(options));
        CheckLayout(parameters.Config, pipeline.Size, schedule, options.BatchSize / replicas);
        _pipeline = new TransformerPipeline<float>(pipeline, parameters, sequenceLength, schedule, options.BalanceLossAlpha);
        _grads = ModelParameters<float>.ZerosLike(parameters);
        _held = parameters.Tensors().Zip(_grads.Tensors(), (w, g) => (w.Name, w.Values, g.Values)).Where(t => _pipeline.Holds(t.Name)).ToArray();
        SequenceLength = sequenceLength;
        _sourceDirectory = sourceDirectory;
    }

    /// <summary>
    /// Refuses, before any rank starts, a layout that cannot run: more stages than decoder layers, or a batch size (the number of
    /// micro-batches) the schedule cannot split (DualPipe: even P, an even batch of at least 2P sequences).
    /// </summary>
    /// <exception cref="ArgumentException">With the reason and the option to change.</exception>
    /// <param name="config">The model.</param>
    /// <param name="stages">P.</param>
    /// <param name="schedule">The schedule.</param>
    /// <param name="batchSize">Sequences each pipeline replica runs per batch: --batch-size / D.</param>
    public static void CheckLayout(Checkpoints.ModelConfig config, int stages, PipelineScheduleKind schedule, int batchSize)
    {
        ArgumentNullException.ThrowIfNull(config);
        if (stages < 1) throw new ArgumentException($"--pipeline-parallel must be at least 1, not {stages}");
        if (stages > config.NumHiddenLayers)
            throw new ArgumentException($"--pipeline-parallel {stages}: the model has only {config.NumHiddenLayers} decoder layers (num_hidden_layers) to cut into stages");
        try
        {
            PipelineSchedule.CheckShape(schedule, stages, batchSize);
        }
        catch (PipelineScheduleException e)
        {
            throw new PipelineScheduleException($"{e.Message} (the micro-batches are the sequences of --batch-size, divided over the pipeline replicas: {batchSize} per replica)");
        }
    }

    /// <summary>
    /// Splits <paramref name="world"/> into pipelines of <paramref name="pipelineParallel"/> consecutive ranks (world = P × D) and,
    /// across them, the data groups of the ranks that run the same stage. Collective; dispose both.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="pipelineParallel"/> is below 1 or does not divide the ranks.</exception>
    public static (ICommunicator Pipeline, ICommunicator Data) SplitGroups(ICommunicator world, int pipelineParallel)
    {
        ArgumentNullException.ThrowIfNull(world);
        if (pipelineParallel < 1 || world.Size % pipelineParallel != 0)
            throw new ArgumentException($"--pipeline-parallel {pipelineParallel} must be at least 1 and divide the {world.Size} ranks (world = P × D: D pipeline replicas of P stages).");
        var pipeline = world.Split(world.Rank / pipelineParallel, world.Rank);
        var data = world.Split(world.Rank % pipelineParallel, world.Rank);
        return (pipeline, data);
    }

    /// <summary>Tokens per training sequence.</summary>
    public int SequenceLength { get; }

    /// <summary>The schedule each step runs.</summary>
    public PipelineScheduleKind Schedule => _pipeline.Schedule;

    /// <summary>The weights: on rank 0 of replica 0 after <see cref="Train"/>, all of them; on other ranks, current for their stages' tensors only.</summary>
    public ModelParameters<float> Parameters => _p;

    /// <summary>The loss of every step so far (of the global batch).</summary>
    public IReadOnlyList<double> Losses => _losses;

    /// <summary>
    /// Runs the steps up to <see cref="SftOptions.Steps"/>; returns one entry per step on every rank. Collective. Cancellation is
    /// honoured between micro-batches and breaks the group; checkpoints already written stay intact.
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
        var loads = _pipeline.ExpertLoad.Select(l => l is null ? null : new int[l.Length]).ToArray();
        var gathered = true;
        var replicas = _data?.Size ?? 1;
        var local = o.BatchSize / replicas;
        var first = (_data?.Rank ?? 0) == 0;                            // replica 0 counts norms and gathers checkpoints

        for (var step = _position.Step + 1; step <= o.Steps; step++)
        {
            var clock = Stopwatch.StartNew();
            foreach (var (_, _, g) in _held) Array.Clear(g);
            foreach (var l in loads) if (l is not null) Array.Clear(l);
            double loss = 0, main = 0, mtp = 0;
            var k1 = o.GradientAccumulation;
            for (var k = 0; k < k1; k++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var batch = Enumerable.Range(0, o.BatchSize).Select(_ => data[order.Next()]).ToList();
                var mine = batch.GetRange((_data?.Rank ?? 0) * local, local);
                var l = _pipeline.ForwardBackward(mine, _grads, lambda, BatchTotals.Of(batch), cancellationToken);
                (loss, main, mtp) = (loss + l.Total, main + l.Main, mtp + l.Mtp);
                for (var layer = 0; layer < loads.Length; layer++)
                    if (loads[layer] is { } sum) for (var e = 0; e < sum.Length; e++) sum[e] += _pipeline.ExpertLoad[layer]![e];
            }
            if (_data is not null)
            {
                // The replicas' parts of the global batch: their gradients, losses and expert loads add up to the whole batch's.
                var flat = new float[_held.Sum(t => t.G.Length)];
                var at = 0;
                foreach (var (_, _, g) in _held) { g.CopyTo(flat, at); at += g.Length; }
                _data.AllReduce<float>(flat, ReduceOp.Sum, cancellationToken);
                at = 0;
                foreach (var (_, _, g) in _held) { flat.AsSpan(at, g.Length).CopyTo(g); at += g.Length; }
                var sums = new[] { loss, main, mtp };
                _data.AllReduce<double>(sums, ReduceOp.Sum, cancellationToken);
                (loss, main, mtp) = (sums[0], sums[1], sums[2]);
                foreach (var l in loads) if (l is not null) _data.AllReduce<int>(l, ReduceOp.Sum, cancellationToken);
            }
            if (k1 > 1) foreach (var (_, _, g) in _held) TensorPrimitives.Multiply(g, 1f / k1, g);
            var norm = ClipGlobalNorm(o.MaxGradNorm, first, cancellationToken);
            var lr = schedule.At(step);
            foreach (var (name, w, g) in _held)
            {
                if (o.Optimizer == OptimizerKind.Sgd)
                {
                    Sgd.Step(w, g, lr);
                    continue;
                }
                if (!_adam.TryGetValue(name, out var state)) _adam[name] = state = (new float[w.Length], new float[w.Length]);
                AdamW.Step(w, g, state.M, state.V, step, lr, o.AdamW);
            }
            gathered = false;
            // The loads are the whole group's already, so every rank moves every bias the same way.
            for (var layer = 0; layer < loads.Length; layer++)
                if (loads[layer] is { } load && _p.RouterBias[layer] is { } bias) AuxLossFreeBalancer.Update(bias, load, o.BiasUpdateSpeed);

            var imbalance = loads.Where(l => l is not null).Select(l => AuxLossFreeBalancer.Imbalance(l)).DefaultIfEmpty(0).Max();
            var tokens = (double)o.BatchSize * k1 * SequenceLength;
            var report = new TrainingProgress(step, o.Steps, loss / k1, main / k1, mtp / k1, lr, norm, tokens / clock.Elapsed.TotalSeconds, imbalance);
            history.Add(report);
            _losses.Add(report.Loss);
            _position = new TrainerPosition(step, order.Epoch, order.Cursor);
            if (o.CheckpointDirectory is { } root && ((o.CheckpointEvery > 0 && step % o.CheckpointEvery == 0) || step == o.Steps))
            {
                var adam = first ? GatherToRankZero(cancellationToken) : [];
                gathered = true;
                if (first && _comm.Rank == 0) TrainingCheckpoint.Save(root, _position, _p, adam, _losses, _sourceDirectory, null);
                _comm.Barrier(cancellationToken);
                _data?.Barrier(cancellationToken);
            }
            if (first && _comm.Rank == 0) progress?.Report(report);
        }
        if (!gathered && first) GatherToRankZero(cancellationToken);
        return history;
    }

    /// <summary>
    /// ‖g‖₂ over the whole model — each tensor counted by the one rank of replica 0 that owns it (<see cref="TransformerPipeline{T}.Owns"/>) —
    /// and clipping of this rank's tensors as <see cref="GradientClipping.ClipGlobalNorm"/> clips.
    /// </summary>
    private double ClipGlobalNorm(double maxNorm, bool counts, CancellationToken cancellationToken)
    {
        var sumSquares = new double[1];
        foreach (var (name, _, g) in _held)
            if (counts && _pipeline.Owns(name)) foreach (var v in g) sumSquares[0] += (double)v * v;
        _comm.AllReduce<double>(sumSquares, ReduceOp.Sum, cancellationToken);
        _data?.AllReduce<double>(sumSquares, ReduceOp.Sum, cancellationToken);
        var norm = Math.Sqrt(sumSquares[0]);
        if (maxNorm > 0 && norm > maxNorm)
        {
            var scale = (float)(maxNorm / (norm + 1e-6));
            foreach (var (_, _, g) in _held) TensorPrimitives.Multiply(g, scale, g);
        }
        return norm;
    }

    /// <summary>
    /// Collective: each stage's owner (rank s for stage s) broadcasts its tensors — and their AdamW moments — so rank 0 holds the
    /// whole model; returns the moments of every tensor on rank 0 (what a checkpoint needs), an empty map elsewhere.
    /// </summary>
    private Dictionary<string, (float[] M, float[] V)> GatherToRankZero(CancellationToken cancellationToken)
    {
        var withMoments = _options.Optimizer == OptimizerKind.AdamW;
        var all = new Dictionary<string, (float[] M, float[] V)>();
        if (_comm.Rank == 0)
            foreach (var (name, w, _) in _held)
                if (_pipeline.Owns(name)) all[name] = Moments(name, w.Length);
        for (var stage = 1; stage < _pipeline.Stages; stage++)
        {
            var tensors = _p.Tensors().Where(t => _pipeline.OwnerOf(t.Name) == stage).ToArray();
            var length = tensors.Sum(t => (long)t.Values.Length);
            var buffer = new float[checked((int)(length * (withMoments ? 3 : 1)))];
            var at = 0;
            if (_comm.Rank == stage)
            {
                foreach (var (name, w) in tensors)
                {
                    w.CopyTo(buffer, at);
                    if (withMoments)
                    {
                        var (m, v) = Moments(name, w.Length);
                        m.CopyTo(buffer, (int)(at + length));
                        v.CopyTo(buffer, (int)(at + 2 * length));
                    }
                    at += w.Length;
                }
            }
            _comm.Broadcast<float>(buffer, stage, cancellationToken);
            if (_comm.Rank != 0) continue;
            foreach (var (name, w) in tensors)
            {
                buffer.AsSpan(at, w.Length).CopyTo(w);
                if (withMoments)
                    all[name] = (buffer.AsSpan((int)(at + length), w.Length).ToArray(), buffer.AsSpan((int)(at + 2 * length), w.Length).ToArray());
                at += w.Length;
            }
        }
        return withMoments ? all : [];
    }

    private (float[] M, float[] V) Moments(string name, int length) =>
        _adam.TryGetValue(name, out var state) ? state : (new float[length], new float[length]);
}
