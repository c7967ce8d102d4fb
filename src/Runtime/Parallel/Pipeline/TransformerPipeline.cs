using System.Numerics;
using DeepSeek.Runtime.Training;

namespace DeepSeek.Runtime.Distributed.Pipeline;

/// <summary>
/// One rank's part of a pipeline-parallel decoder model: the model cut into as many contiguous stages as the pipeline group has
/// ranks (<see cref="TransformerStageLayout"/>: embedding on the first, model.norm, lm_head, MTP and the loss on the last), driven
/// through 1F1B or DualPipe by <see cref="PipelineExecutor"/> with one micro-batch per sequence of the batch. Under DualPipe rank r
/// holds stage r for the direction fed in at rank 0 and stage P − 1 − r for the other.
/// </summary>
/// <remarks>
/// Every rank keeps the whole <see cref="ModelParameters{T}"/> object but computes (and, in a trainer, updates) only the tensors of
/// its stages (<see cref="Holds"/>). The result of <see cref="ForwardBackward"/> is the single-process
/// <see cref="TrainableModel{T}.ForwardBackward(IReadOnlyList{TrainingSequence}, ModelParameters{T}, T)"/> of the same batch up to
/// the order the per-sequence gradients are summed in (each sequence's gradient on its own, then summed in sequence order).
/// </remarks>
public sealed class TransformerPipeline<T> where T : IFloatingPointIeee754<T>
{
    private readonly ICommunicator _comm;
    private readonly ModelParameters<T> _p;
    private readonly TransformerStageLayout _layout;
    private readonly TransformerPipelineStage<T>[] _stages;   // per direction
    private readonly Dictionary<int, PipelineSchedule> _schedules = [];

    /// <summary>Plans this rank's stages. Every rank of <paramref name="pipeline"/> must pass equal parameters and arguments.</summary>
    /// <param name="pipeline">The pipeline group: its size is the number of stages P.</param>
    /// <param name="parameters">The whole model (the same values on every rank).</param>
    /// <param name="sequenceLength">Tokens per sequence.</param>
    /// <param name="schedule">1F1B, or DualPipe (even P; batches of an even number of sequences, at least 2P).</param>
    /// <param name="balanceLossAlpha">α of the sequence-wise MoE balance loss (0 = off).</param>
    /// <exception cref="ArgumentException">More stages than decoder layers, or DualPipe with an odd number of stages.</exception>
    public TransformerPipeline(ICommunicator pipeline, ModelParameters<T> parameters, int sequenceLength, PipelineScheduleKind schedule, double balanceLossAlpha = 0)
    {
        _comm = pipeline ?? throw new ArgumentNullException(nameof(pipeline));
        _p = parameters ?? throw new ArgumentNullException(nameof(parameters));
        var size = pipeline.Size;
        if (schedule == PipelineScheduleKind.DualPipe && size % 2 != 0)
            throw new PipelineScheduleException($"DualPipe needs an even number of pipeline stages (rank r holds stages r and P-1-r), got {size}; use 1F1B");
        _layout = TransformerStageLayout.For(parameters, size);
        Schedule = schedule;
        var directions = schedule == PipelineScheduleKind.DualPipe ? 2 : 1;
        _stages = Enumerable.Range(0, directions)
            .Select(d => new TransformerPipelineStage<T>(parameters, sequenceLength, balanceLossAlpha, _layout, d == 0 ? pipeline.Rank : size - 1 - pipeline.Rank))
            .ToArray();
        ExpertLoad = _stages[0].ExpertLoad.Select(l => l is null ? null : new int[l.Length]).ToArray();
    }

    /// <summary>The schedule every step runs.</summary>
    public PipelineScheduleKind Schedule { get; }

    /// <summary>Pipeline stages (the group's size).</summary>
    public int Stages => _layout.Stages;

    /// <summary>The model stages this rank runs, one per direction.</summary>
    public IReadOnlyList<int> StagesOfThisRank => _stages.Select(s => s.Stage).ToArray();

    /// <summary>Tokens each expert received over the last batch on all stages, per layer (null for dense layers); the same on every rank.</summary>
    public int[]?[] ExpertLoad { get; }

    /// <summary>Whether this rank computes the gradient of (and trains) tensor <paramref name="name"/>.</summary>
    public bool Holds(string name) => _stages.Any(s => _layout.Holds(s.Stage, name));

    /// <summary>
    /// Whether this rank is the one that counts <paramref name="name"/> in sums over the model (e.g. the gradient norm): each tensor
    /// has exactly one such rank in the group, the rank running its owning stage for the first direction.
    /// </summary>
    public bool Owns(string name) => _layout.OwnerOf(name) == _comm.Rank;

    /// <summary>The stage that owns tensor <paramref name="name"/> (rank s runs stage s for the first direction).</summary>
    public int OwnerOf(string name) => _layout.OwnerOf(name);

    /// <summary>
    /// Runs <paramref name="batch"/> (one micro-batch per sequence) through the pipeline and adds ∂(L_main + λ·L_mtp + L_bal)/∂θ of
    /// the tensors this rank holds (<see cref="Holds"/>) into <paramref name="grads"/>; the others are left alone. Returns the batch's
    /// losses (the same on every rank) and fills <see cref="ExpertLoad"/>. Collective over the pipeline group.
    /// </summary>
    /// <param name="batch">The sequences this pipeline runs, one micro-batch each.</param>
    /// <param name="grads">Gradients to add into.</param>
    /// <param name="mtpWeight">λ of the MTP loss.</param>
    /// <param name="totals">
    /// The totals the loss means divide by: null for <paramref name="batch"/>'s own; a larger batch's when <paramref name="batch"/> is
    /// this pipeline replica's part of it (data parallelism across replicas), so the replicas' gradients and losses add up.
    /// </param>
    /// <param name="cancellationToken">Cancels the step (and breaks the group).</param>
    /// <exception cref="PipelineScheduleException">The batch size does not suit the schedule (DualPipe: even, at least 2P).</exception>
    public BatchLoss<T> ForwardBackward(IReadOnlyList<TrainingSequence> batch, ModelParameters<T> grads, T mtpWeight, BatchTotals? totals = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ArgumentNullException.ThrowIfNull(grads);
        if (batch.Count == 0) throw new ArgumentException("empty batch", nameof(batch));
        if (!_schedules.TryGetValue(batch.Count, out var schedule))
            _schedules[batch.Count] = schedule = PipelineSchedule.Create(Schedule, _layout.Stages, batch.Count);
        var whole = totals ?? BatchTotals.Of(batch);
        foreach (var stage in _stages) stage.Prepare(batch, mtpWeight, whole);
        var inputs = batch.Select(s => s.Tokens.Select(t => (double)t).ToArray()).ToArray();
        var result = PipelineExecutor.Run(_comm, schedule, _stages, inputs, LossIsOutput.Instance, cancellationToken: cancellationToken);

        // Each stage's gradient (the same sum on both DualPipe copies) into the tensors it holds; the embedding, when both ends
        // hold it, is the sum of the two stages' parts, each counted once: from the rank that runs it for the first direction.
        var shared = _layout.SharedEmbedding ? new double[_p.Embed.Length] : null;
        for (var d = 0; d < _stages.Length; d++)
        {
            var stage = _stages[d];
            var flat = result.Gradients[d];
            var at = 0;
            foreach (var (name, length) in stage.Tensors)
            {
                var part = flat.AsSpan(at, length);
                at += length;
                if (shared is not null && name == TransformerStageLayout.EmbeddingName)
                {
                    if (d == 0) for (var i = 0; i < length; i++) shared[i] += part[i];
                    continue;
                }
                var g = grads[name];
                for (var i = 0; i < length; i++) g[i] += T.CreateChecked(part[i]);
            }
        }
        if (shared is not null)
        {
            _comm.AllReduce<double>(shared, ReduceOp.Sum, cancellationToken);
            if (Holds(TransformerStageLayout.EmbeddingName))
                for (var i = 0; i < shared.Length; i++) grads.Embed[i] += T.CreateChecked(shared[i]);
        }

        // Losses and expert loads: each (stage, micro-batch) was run by exactly one rank, so the group's sum counts each once.
        var losses = new double[3];
        foreach (var stage in _stages)
        {
            var (main, mtp, balance) = stage.Losses();
            losses[0] += double.CreateChecked(main);
            losses[1] += double.CreateChecked(mtp);
            losses[2] += double.CreateChecked(balance);
        }
        _comm.AllReduce<double>(losses, ReduceOp.Sum, cancellationToken);
        for (var layer = 0; layer < ExpertLoad.Length; layer++)
        {
            if (ExpertLoad[layer] is not { } total) continue;
            Array.Clear(total);
            foreach (var stage in _stages)
                if (stage.ExpertLoad[layer] is { } load) for (var e = 0; e < total.Length; e++) total[e] += load[e];
            _comm.AllReduce<int>(total, ReduceOp.Sum, cancellationToken);
        }
        T Of(double v) => T.CreateChecked(v);
        return new BatchLoss<T>(Of(losses[0]) + mtpWeight * Of(losses[1]) + Of(losses[2]), Of(losses[0]), Of(losses[1]), Of(losses[2]));
    }

    /// <summary>The last stage's output is already its share of the loss, so the loss is the output and ∂loss/∂output = 1.</summary>
    private sealed class LossIsOutput : IPipelineLoss
    {
        public static readonly LossIsOutput Instance = new();

        public double Loss(int microBatch, ReadOnlySpan<double> output, Span<double> outputGradient)
        {
            outputGradient[0] = 1;
            return output[0];
        }
    }
}
