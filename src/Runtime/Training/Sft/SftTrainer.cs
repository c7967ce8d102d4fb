using System.Diagnostics;
using DeepSeek.Runtime.Training.Optimization;

namespace DeepSeek.Runtime.Training.Sft;

/// <summary>
/// Supervised fine-tuning of fp32 master weights: micro-batches of sequences in file order (or shuffled per epoch),
/// gradient accumulation, global-norm clipping, SGD or AdamW, the aux-loss-free router-bias update after each step, and
/// the MTP loss with weight λ. Cancellation is honoured between micro-batches; weights change only at whole steps.
/// </summary>
public sealed class SftTrainer
{
    private readonly ModelParameters<float> _p;
    private readonly ModelParameters<float> _grads;
    private readonly TrainableModel<float> _model;
    private readonly SftOptions _options;
    private readonly Dictionary<string, (float[] M, float[] V)> _adam = [];

    /// <summary>Prepares training of <paramref name="parameters"/> on sequences of <paramref name="sequenceLength"/> tokens.</summary>
    public SftTrainer(ModelParameters<float> parameters, int sequenceLength, SftOptions options)
    {
        _p = parameters ?? throw new ArgumentNullException(nameof(parameters));
        _options = options ?? throw new ArgumentNullException(nameof(options));
        options.Validate();
        _model = new TrainableModel<float>(parameters, sequenceLength);
        _grads = ModelParameters<float>.ZerosLike(parameters);
        SequenceLength = sequenceLength;
    }

    /// <summary>Tokens per training sequence.</summary>
    public int SequenceLength { get; }

    /// <summary>Runs <see cref="SftOptions.Steps"/> steps over <paramref name="data"/>; returns one entry per step.</summary>
    public IReadOnlyList<TrainingProgress> Train(IReadOnlyList<TrainingSequence> data, IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (data.Count == 0) throw new ArgumentException("no training examples", nameof(data));
        var o = _options;
        var schedule = new LearningRateSchedule(o.LearningRate, o.WarmupSteps, o.Steps, o.LearningRate);
        var order = new Order(data.Count, o.Shuffle, o.Seed);
        var lambda = _p.Mtp.Length > 0 ? (float)o.MtpWeight : 0f;
        var history = new List<TrainingProgress>(o.Steps);
        var loads = _model.ExpertLoad.Select(l => l is null ? null : new int[l.Length]).ToArray();

        for (var step = 1; step <= o.Steps; step++)
        {
            var clock = Stopwatch.StartNew();
            foreach (var (_, g) in _grads.Tensors()) Array.Clear(g);
            foreach (var l in loads) if (l is not null) Array.Clear(l);
            double loss = 0, main = 0, mtp = 0;
            for (var k = 0; k < o.GradientAccumulation; k++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var batch = Enumerable.Range(0, o.BatchSize).Select(_ => data[order.Next()]).ToList();
                var l = _model.ForwardBackward(batch, _grads, lambda);
                (loss, main, mtp) = (loss + l.Total, main + l.Main, mtp + l.Mtp);
                for (var layer = 0; layer < loads.Length; layer++)
                    if (loads[layer] is { } total) for (var e = 0; e < total.Length; e++) total[e] += _model.ExpertLoad[layer]![e];
            }
            var k1 = o.GradientAccumulation;
            var gradients = _grads.Tensors().Select(t => t.Values).ToList();
            if (k1 > 1) foreach (var g in gradients) System.Numerics.Tensors.TensorPrimitives.Multiply(g, 1f / k1, g);
            var norm = GradientClipping.ClipGlobalNorm(gradients, o.MaxGradNorm);
            var lr = schedule.At(step);
            Update(step, lr);
            for (var layer = 0; layer < loads.Length; layer++)
                if (loads[layer] is { } load && _p.RouterBias[layer] is { } bias) AuxLossFreeBalancer.Update(bias, load, o.BiasUpdateSpeed);

            var imbalance = loads.Where(l => l is not null).Select(l => AuxLossFreeBalancer.Imbalance(l)).DefaultIfEmpty(0).Max();
            var tokens = (double)o.BatchSize * k1 * SequenceLength;
            var report = new TrainingProgress(step, o.Steps, loss / k1, main / k1, mtp / k1, lr, norm, tokens / clock.Elapsed.TotalSeconds, imbalance);
            history.Add(report);
            progress?.Report(report);
        }
        return history;
    }

    private void Update(int step, double lr)
    {
        foreach (var ((name, w), (_, g)) in _p.Tensors().Zip(_grads.Tensors()))
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

    /// <summary>File order, or a seeded shuffle per epoch.</summary>
    private sealed class Order(int count, bool shuffle, int seed)
    {
        private readonly Random _rng = new(seed);
        private int[] _indices = [];
        private int _next;

        public int Next()
        {
            if (_next == _indices.Length)
            {
                _indices = Enumerable.Range(0, count).ToArray();
                if (shuffle) _rng.Shuffle(_indices);
                _next = 0;
            }
            return _indices[_next++];
        }
    }
}
