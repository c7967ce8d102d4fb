using System.Diagnostics;
using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Training.Lora;
using DeepSeek.Runtime.Training.Optimization;

namespace DeepSeek.Runtime.Training.Sft;

/// <summary>Trains a model in-process from business code.</summary>
public interface ITrainer
{
    /// <summary>
    /// Runs the remaining steps over <paramref name="data"/> off the caller's thread, reporting each step; cancellation is
    /// honoured between micro-batches and leaves the last written checkpoint intact.
    /// </summary>
    Task<IReadOnlyList<TrainingProgress>> TrainAsync(IReadOnlyList<TrainingSequence> data, IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default);
}

/// <summary>
/// Supervised fine-tuning of fp32 master weights: micro-batches of sequences in file order (or shuffled per epoch),
/// gradient accumulation, global-norm clipping, SGD or AdamW, the aux-loss-free router-bias update after each step, and
/// the MTP loss with weight λ. Cancellation is honoured between micro-batches; weights change only at whole steps.
/// </summary>
public sealed class SftTrainer : ITrainer
{
    private readonly ModelParameters<float> _p;
    private readonly ModelParameters<float> _grads;
    private readonly TrainableModel<float> _model;
    private readonly SftOptions _options;
    private readonly Dictionary<string, (float[] M, float[] V)> _adam;
    private readonly string? _sourceDirectory;
    private readonly List<double> _losses;
    private readonly (string Name, float[] W, float[] G)[] _tensors;     // every trainable tensor with its gradient
    private readonly float[][] _gradients;
    private readonly List<TrainingSequence> _batch = [];
    private TrainerPosition _position;
    private LoraAdapter? _lora;
    private LoraAdapter? _loraGrads;
    private WeightMap? _base;
    private (string Name, float[] W, float[] G)[] _loraTensors = [];
    private float[][] _loraGradients = [];

    /// <summary>
    /// Prepares training of <paramref name="parameters"/> on sequences of <paramref name="sequenceLength"/> tokens;
    /// <paramref name="sourceDirectory"/> supplies the tokenizer files copied into checkpoints.
    /// </summary>
    public SftTrainer(ModelParameters<float> parameters, int sequenceLength, SftOptions options, string? sourceDirectory = null)
        : this(parameters, sequenceLength, options, sourceDirectory, new TrainerPosition(0, 0, 0), [], [])
    {
    }

    private SftTrainer(ModelParameters<float> parameters, int sequenceLength, SftOptions options, string? sourceDirectory,
        TrainerPosition position, Dictionary<string, (float[] M, float[] V)> adam, List<double> losses)
    {
        _p = parameters ?? throw new ArgumentNullException(nameof(parameters));
        _options = options ?? throw new ArgumentNullException(nameof(options));
        options.Validate();
        _model = new TrainableModel<float>(parameters, sequenceLength, options.BalanceLossAlpha, options.RecomputeActivations);
        _grads = ModelParameters<float>.ZerosLike(parameters);
        _tensors = parameters.Tensors().Zip(_grads.Tensors(), (w, g) => (w.Name, w.Values, g.Values)).ToArray();
        _gradients = _tensors.Select(t => t.G).ToArray();
        SequenceLength = sequenceLength;
        _sourceDirectory = sourceDirectory;
        _position = position;
        _adam = adam;
        _losses = losses;
    }

    /// <summary>
    /// Continues from a checkpoint folder written by an earlier run with the same options and data: weights, optimizer
    /// moments and data position are restored, so the following steps reproduce the uninterrupted run bit for bit.
    /// </summary>
    public static SftTrainer Resume(string checkpointFolder, int sequenceLength, SftOptions options, string? sourceDirectory = null)
    {
        var (position, parameters, adam, losses) = TrainingCheckpoint.Load(checkpointFolder);
        return new SftTrainer(parameters, sequenceLength, options, sourceDirectory, position, adam, losses);
    }

    /// <summary>
    /// Trains LoRA adapters instead of the full weights: each targeted projection keeps W₀ (read from
    /// <paramref name="baseWeights"/>, the memory-mapped checkpoint, which must stay open) and gains a branch
    /// (α/r)·dropout(x)·Aᵀ·Bᵀ with dropout p = <see cref="LoraOptions.Dropout"/> (masks drawn from <see cref="SftOptions.Seed"/>,
    /// the step and the micro-batch, so a resumed run repeats them); only A and B are clipped and updated; every other
    /// weight and the router biases stay frozen. Between <see cref="Train"/> calls and in checkpoints,
    /// <see cref="Parameters"/> holds the merged W₀ + (α/r)·B·A.
    /// </summary>
    public SftTrainer WithLora(LoraAdapter adapter, WeightMap baseWeights)
    {
        _lora = adapter ?? throw new ArgumentNullException(nameof(adapter));
        _base = baseWeights ?? throw new ArgumentNullException(nameof(baseWeights));
        adapter.Options.Validate();
        _loraGrads = adapter.ZerosLike();
        var branches = new LoraBranches<float>(SequenceLength, adapter.Options.Dropout, _options.Seed);
        var scale = (float)adapter.Options.Scale;
        foreach (var (pair, g) in adapter.Pairs.Zip(_loraGrads.Pairs))
            branches.Add(pair.Target, _p[pair.Target], pair.Outputs, pair.Inputs, pair.Rank, pair.A, pair.B, g.A, g.B, scale);
        _model.AttachLora(branches);
        _loraTensors = adapter.Pairs.Zip(_loraGrads.Pairs)
            .SelectMany(x => new[] { ($"lora:{x.First.Target}.A", x.First.A, x.Second.A), ($"lora:{x.First.Target}.B", x.First.B, x.Second.B) })
            .ToArray();
        _loraGradients = _loraTensors.Select(t => t.G).ToArray();
        _lora.Merge(_base, _p);
        return this;
    }

    /// <summary>The LoRA adapters being trained, when <see cref="WithLora"/> was called.</summary>
    public LoraAdapter? Lora => _lora;

    /// <summary>The weights being trained (fp32 masters).</summary>
    public ModelParameters<float> Parameters => _p;

    /// <summary>The loss of every step so far, including those of the run this one resumed.</summary>
    public IReadOnlyList<double> Losses => _losses;

    /// <summary>Optimizer steps completed so far (including those of a resumed run).</summary>
    public int CompletedSteps => _position.Step;

    /// <inheritdoc/>
    public Task<IReadOnlyList<TrainingProgress>> TrainAsync(IReadOnlyList<TrainingSequence> data, IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default) =>
        Task.Run(() => Train(data, progress, cancellationToken), cancellationToken);

    /// <summary>Tokens per training sequence.</summary>
    public int SequenceLength { get; }

    /// <summary>Runs the steps up to <see cref="SftOptions.Steps"/> over <paramref name="data"/>; returns one entry per step run.</summary>
    public IReadOnlyList<TrainingProgress> Train(IReadOnlyList<TrainingSequence> data, IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (data.Count == 0) throw new ArgumentException("no training examples", nameof(data));
        var o = _options;
        var schedule = new LearningRateSchedule(o.LearningRate, o.WarmupSteps, o.Steps, o.MinLearningRate ?? o.LearningRate);
        var order = new SftDataOrder(data.Count, o.Shuffle, o.Seed, _position.Epoch, _position.Cursor);
        var lambda = _p.Mtp.Length > 0 ? (float)o.MtpWeight : 0f;
        var history = new List<TrainingProgress>(Math.Max(0, o.Steps - _position.Step));
        var loads = _model.ExpertLoad.Select(l => l is null ? null : new int[l.Length]).ToArray();
        _losses.EnsureCapacity(o.Steps);
        // With LoRA the targeted tensors hold W₀ while training (the branches add the adapters) and the merged weights
        // in between, so Parameters and checkpoints always show the adapted model.
        RestoreLoraBase();
        try
        {
            for (var step = _position.Step + 1; step <= o.Steps; step++)
            {
                var started = Stopwatch.GetTimestamp();
                foreach (var g in _gradients) Array.Clear(g);
                foreach (var g in _loraGradients) Array.Clear(g);
                foreach (var l in loads) if (l is not null) Array.Clear(l);
                double loss = 0, main = 0, mtp = 0;
                var k1 = o.GradientAccumulation;
                for (var k = 0; k < k1; k++)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    _batch.Clear();
                    for (var b = 0; b < o.BatchSize; b++) _batch.Add(data[order.Next()]);
                    _model.DropoutStep = (ulong)((long)(step - 1) * k1 + k);
                    var l = _model.ForwardBackward(_batch, _grads, lambda);
                    (loss, main, mtp) = (loss + l.Total, main + l.Main, mtp + l.Mtp);
                    for (var layer = 0; layer < loads.Length; layer++)
                        if (loads[layer] is { } total) for (var e = 0; e < total.Length; e++) total[e] += _model.ExpertLoad[layer]![e];
                }
                var gradients = _lora is null ? _gradients : _loraGradients;
                if (k1 > 1) foreach (var g in gradients) System.Numerics.Tensors.TensorPrimitives.Multiply(g, 1f / k1, g);
                var norm = GradientClipping.ClipGlobalNorm(gradients, o.MaxGradNorm);
                var lr = schedule.At(step);
                Update(step, lr);
                for (var layer = 0; layer < loads.Length && _lora is null; layer++)
                    if (loads[layer] is { } load && _p.RouterBias[layer] is { } bias) AuxLossFreeBalancer.Update(bias, load, o.BiasUpdateSpeed);

                var imbalance = 0.0;
                foreach (var l in loads) if (l is not null) imbalance = Math.Max(imbalance, AuxLossFreeBalancer.Imbalance(l));
                var tokens = (double)o.BatchSize * k1 * SequenceLength;
                var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
                var report = new TrainingProgress(step, o.Steps, loss / k1, main / k1, mtp / k1, lr, norm, tokens / seconds, imbalance);
                history.Add(report);
                _losses.Add(report.Loss);
                _position = new TrainerPosition(step, order.Epoch, order.Cursor);
                if (o.CheckpointDirectory is { } root && ((o.CheckpointEvery > 0 && step % o.CheckpointEvery == 0) || step == o.Steps))
                {
                    _lora?.Merge(_base!, _p);
                    TrainingCheckpoint.Save(root, _position, _p, _adam, _losses, _sourceDirectory, _lora);
                    RestoreLoraBase();
                }
                progress?.Report(report);
            }
        }
        finally
        {
            _lora?.Merge(_base!, _p);
        }
        return history;
    }

    /// <summary>With LoRA: the targeted tensors back to W₀ from the base checkpoint (their values while the branches train).</summary>
    private void RestoreLoraBase()
    {
        if (_lora is null) return;
        foreach (var pair in _lora.Pairs) _base!.Tensor(pair.Target)!.ToFloatArray().CopyTo(_p[pair.Target], 0);
    }

    private void Update(int step, double lr)
    {
        foreach (var (name, w, g) in _lora is null ? _tensors : _loraTensors)
        {
            if (_options.Optimizer == OptimizerKind.Sgd)
            {
                Sgd.Step(w, g, lr);
                continue;
            }
            if (!_adam.TryGetValue(name, out var state)) _adam[name] = state = (new float[w.Length], new float[w.Length]);
            AdamW.Step(w, g, state.M, state.V, step, lr, _options.AdamW);
        }
    }
}
