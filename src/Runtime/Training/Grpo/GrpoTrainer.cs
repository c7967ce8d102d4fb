using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Compute.Cpu;
using DeepSeek.Runtime.Generation;
using DeepSeek.Runtime.Model;
using DeepSeek.Runtime.Tensors;
using DeepSeek.Runtime.Training.Optimization;
using DeepSeek.Runtime.Training.Sft;

namespace DeepSeek.Runtime.Training.Grpo;

/// <summary>
/// Group Relative Policy Optimization (DeepSeekMath §4.1, DeepSeek-R1 §2.2.1) over token ids on fp32 master weights.
/// Each step samples G completions per prompt from the current policy (the inference engine, seeded), scores them with
/// the reward functions (summed), normalises rewards within each group into advantages, then runs μ optimizer updates of
/// J = (1/N) Σᵢ (1/|oᵢ|) Σ_t [−min(ρ·Aᵢ, clip(ρ, 1−ε, 1+ε)·Aᵢ) + β·KL_k3(π_ref ‖ π)] over the N completions, with
/// ρ = π/π_old per completion token and π_ref the frozen starting weights. Prompt and padding positions weigh 0.
/// </summary>
/// <remarks>
/// Sampling uses the simple path: the current weights are saved as an F32 checkpoint in a scratch folder and reopened by
/// a fresh <see cref="Transformer"/> on every step. That is correct and cheap for small models; a large one would want
/// the engine to read the trainer's arrays directly. Router biases are not updated during GRPO.
/// </remarks>
public sealed class GrpoTrainer : IDisposable
{
    private readonly ModelParameters<float> _p;
    private readonly ModelParameters<float> _reference;
    private readonly ModelParameters<float> _grads;
    private readonly GrpoOptions _options;
    private readonly Func<RewardContext, double>[] _rewards;
    private readonly Func<ITokenTextDecoder>? _textDecoder;
    private readonly string _work;
    private readonly bool _ownsWork;
    private readonly Dictionary<string, (float[] M, float[] V)> _adam = [];
    private long _updates;
    private int _step;
    private int _epoch;
    private int _cursor;
    private readonly List<double> _rewardHistory = [];
    private Checkpoint? _policyCheckpoint;
    private CpuBackend? _policyBackend;

    /// <summary>
    /// Prepares GRPO of <paramref name="parameters"/> (updated in place); the reference policy is a copy of them now.
    /// <paramref name="rewards"/> are summed; <paramref name="textDecoder"/> fills <see cref="RewardContext.Text"/>;
    /// <paramref name="workDirectory"/> holds the policy snapshots (a temporary folder, deleted on dispose, when null).
    /// </summary>
    public GrpoTrainer(ModelParameters<float> parameters, GrpoOptions options, IReadOnlyList<Func<RewardContext, double>> rewards,
        Func<ITokenTextDecoder>? textDecoder = null, string? workDirectory = null)
    {
        _p = parameters ?? throw new ArgumentNullException(nameof(parameters));
        _options = options ?? throw new ArgumentNullException(nameof(options));
        ArgumentNullException.ThrowIfNull(rewards);
        if (rewards.Count == 0) throw new ArgumentException("no reward functions", nameof(rewards));
        options.Validate();
        _rewards = [.. rewards];
        _textDecoder = textDecoder;
        _reference = ModelParameters<float>.ZerosLike(parameters);
        foreach (var ((_, from), (_, to)) in parameters.Tensors().Zip(_reference.Tensors())) from.CopyTo(to, 0);
        for (var l = 0; l < parameters.RouterBias.Length; l++) _reference.RouterBias[l] = (float[]?)parameters.RouterBias[l]?.Clone();
        _grads = ModelParameters<float>.ZerosLike(parameters);
        _ownsWork = workDirectory is null;
        _work = workDirectory ?? Path.Combine(Path.GetTempPath(), "dsrt-grpo-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(_work);
    }

    /// <summary>Runs <see cref="Train"/> off the caller's thread (business code: <c>await trainer.TrainAsync(prompts, progress, ct)</c>).</summary>
    public Task<IReadOnlyList<GrpoProgress>> TrainAsync(IReadOnlyList<int[]> prompts, IProgress<GrpoProgress>? progress = null, CancellationToken cancellationToken = default) =>
        Task.Run(() => Train(prompts, progress, cancellationToken), cancellationToken);

    /// <summary>Runs <see cref="GrpoOptions.Steps"/> steps over <paramref name="prompts"/> (seeded shuffle per epoch); one entry per step.</summary>
    public IReadOnlyList<GrpoProgress> Train(IReadOnlyList<int[]> prompts, IProgress<GrpoProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prompts);
        if (prompts.Count == 0) throw new ArgumentException("no prompts", nameof(prompts));
        if (prompts.Any(p => p is null || p.Length == 0)) throw new ArgumentException("empty prompt", nameof(prompts));
        var o = _options;
        var length = prompts.Max(p => p.Length) + o.MaxCompletionTokens;
        var policy = new TrainableModel<float>(_p, length);
        var reference = new TrainableModel<float>(_reference, length);
        // Prompt order: a shuffle per epoch from one seeded generator; a resumed run replays the epochs it had started.
        var rng = new Random(o.Seed);
        var order = Array.Empty<int>();
        for (var e = 0; e < _epoch; e++) { order = Enumerable.Range(0, prompts.Count).ToArray(); rng.Shuffle(order); }
        var next = _epoch == 0 ? 0 : _cursor;
        var history = new List<GrpoProgress>(o.Steps);
        if (o.CheckpointDirectory is { } root0 && !Directory.Exists(Path.Combine(root0, "reference")))
            TrainedCheckpoint.Save(_reference, Path.Combine(root0, "reference"), DType.F32);

        for (var step = _step + 1; step <= o.Steps; step++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var chosen = new int[o.PromptsPerStep];
            for (var i = 0; i < chosen.Length; i++)
            {
                if (next == order.Length) { order = Enumerable.Range(0, prompts.Count).ToArray(); rng.Shuffle(order); next = 0; _epoch++; }
                chosen[i] = order[next++];
            }

            // Roll-outs from the current policy.
            var generator = RefreshPolicy(length);
            var requests = new List<GenerationRequest>();
            foreach (var (pi, k) in chosen.Select((p, k) => (p, k)))
                for (var g = 0; g < o.GroupSize; g++)
                    requests.Add(new GenerationRequest(prompts[pi], new SamplingOptions
                    {
                        Temperature = o.Temperature, MaxTokens = o.MaxCompletionTokens,
                        Seed = ((long)o.Seed * 1_000_003 + step) * 65_537 + k * o.GroupSize + g,
                    }));
            var completions = requests.Select(_ => new List<int>()).ToArray();
            var finish = new FinishReason[requests.Count];
            foreach (var t in generator.Generate(requests, cancellationToken: cancellationToken))
            {
                completions[t.Sequence].Add(t.TokenId);
                if (t.Finish is { } f) finish[t.Sequence] = f;
            }

            // Rewards and group-normalised advantages.
            var n = requests.Count;
            var rewards = new double[n];
            for (var i = 0; i < n; i++)
            {
                var prompt = prompts[chosen[i / o.GroupSize]];
                var ids = completions[i].ToArray();
                var context = new RewardContext(chosen[i / o.GroupSize], prompt, ids, Decode(ids, finish[i]), finish[i]);
                foreach (var reward in _rewards) rewards[i] += reward(context);
            }
            var advantages = new double[n];
            for (var k = 0; k < chosen.Length; k++)
                GrpoMath.Advantages(rewards.AsSpan(k * o.GroupSize, o.GroupSize).ToArray()).CopyTo(advantages, k * o.GroupSize);

            // Training sequences: prompt + completion, padded; only completion tokens count.
            var batch = new TrainingSequence[n];
            for (var i = 0; i < n; i++)
            {
                var prompt = prompts[chosen[i / o.GroupSize]];
                var tokens = new int[length];
                prompt.CopyTo(tokens, 0);
                completions[i].CopyTo(tokens, prompt.Length);
                var mask = new bool[length - 1];
                for (var t = prompt.Length - 1; t < prompt.Length + completions[i].Count - 1; t++) mask[t] = true;
                batch[i] = new TrainingSequence(tokens, mask);
            }
            var refLogProbs = o.KlBeta == 0 ? null : batch.Select(reference.TokenLogProbs).ToArray();
            var oldLogProbs = new float[n][];

            double kl = 0, loss = 0, norm = 0;
            long clipped = 0, counted = 0;
            for (var epoch = 0; epoch < o.Epochs; epoch++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                foreach (var (_, g) in _grads.Tensors()) Array.Clear(g);
                double epochLoss = 0, epochKl = 0;
                long epochTokens = 0;
                policy.ForwardBackwardWeighted(batch, _grads, 1f, (b, logProbs) =>
                {
                    if (epoch == 0) oldLogProbs[b] = logProbs;     // the weights that sampled the roll-outs
                    var weights = new float[logProbs.Length];
                    var size = completions[b].Count;
                    for (var t = 0; t < logProbs.Length; t++)
                    {
                        if (!batch[b].Counts(t)) continue;
                        var term = GrpoMath.Token(logProbs[t], oldLogProbs[b][t], refLogProbs?[b][t] ?? 0, advantages[b], o.ClipEpsilon, o.KlBeta);
                        weights[t] = (float)(term.Weight / (n * size));
                        epochLoss += term.Loss / (n * size);
                        epochKl += term.Kl;
                        epochTokens++;
                        if (term.Clipped) clipped++;
                    }
                    return weights;
                }, out _);
                counted += epochTokens;
                if (epoch == 0) (loss, kl) = (epochLoss, epochTokens == 0 ? 0 : epochKl / epochTokens);
                norm = GradientClipping.ClipGlobalNorm(_grads.Tensors().Select(t => t.Values).ToList(), o.MaxGradNorm);
                Update(o.LearningRate);
            }

            var report = new GrpoProgress(step, o.Steps, rewards.Average(), Std(rewards), kl, counted == 0 ? 0 : (double)clipped / counted,
                completions.Average(c => c.Count), loss, norm, o.LearningRate);
            history.Add(report);
            _rewardHistory.Add(report.MeanReward);
            (_step, _cursor) = (step, next);
            if (o.CheckpointDirectory is { } root && ((o.CheckpointEvery > 0 && step % o.CheckpointEvery == 0) || step == o.Steps))
                TrainingCheckpoint.Save(root, new TrainerPosition(step, _epoch, next), _p, _adam, _rewardHistory, sourceDirectory: null);
            progress?.Report(report);
        }
        return history;
    }

    /// <summary>The policy weights being trained.</summary>
    public ModelParameters<float> Parameters => _p;

    /// <summary>Steps completed (including those of a resumed run).</summary>
    public int CompletedSteps => _step;

    /// <summary>
    /// Continues from a checkpoint folder of an earlier run with the same options, rewards and prompts: policy weights,
    /// optimizer moments, the frozen reference (saved once in the checkpoint root) and the prompt order are restored, and
    /// roll-out seeds depend only on the step, so the following steps reproduce the uninterrupted run.
    /// </summary>
    public static GrpoTrainer Resume(string checkpointFolder, GrpoOptions options, IReadOnlyList<Func<RewardContext, double>> rewards,
        Func<ITokenTextDecoder>? textDecoder = null, string? workDirectory = null)
    {
        var (position, parameters, adam, history) = TrainingCheckpoint.Load(checkpointFolder);
        var referenceFolder = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(checkpointFolder))!, "reference");
        using var referenceCheckpoint = Checkpoint.Open(referenceFolder);
        var trainer = new GrpoTrainer(parameters, options, rewards, textDecoder, workDirectory);
        var reference = ModelParameters<float>.Load(WeightMap.Bind(referenceCheckpoint));
        foreach (var ((_, from), (_, to)) in reference.Tensors().Zip(trainer._reference.Tensors())) from.CopyTo(to, 0);
        foreach (var (name, state) in adam) trainer._adam[name] = state;
        trainer._updates = (long)position.Step * options.Epochs;
        (trainer._step, trainer._epoch, trainer._cursor) = (position.Step, position.Epoch, position.Cursor);
        trainer._rewardHistory.AddRange(history);
        return trainer;
    }

    /// <summary>Releases the sampling engine and deletes the scratch folder when the trainer created it.</summary>
    public void Dispose()
    {
        ReleasePolicy();
        if (!_ownsWork) return;
        try { Directory.Delete(_work, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    private static double Std(double[] values)
    {
        var mean = values.Average();
        return Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / values.Length);
    }

    private string? Decode(int[] ids, FinishReason finish)
    {
        if (_textDecoder is null) return null;
        var decoder = _textDecoder();
        var text = new System.Text.StringBuilder();
        var count = finish == FinishReason.Stop && ids.Length > 0 ? ids.Length - 1 : ids.Length;
        for (var i = 0; i < count; i++) text.Append(decoder.Append(ids[i]));
        return text.Append(decoder.Flush()).ToString();
    }

    /// <summary>The simple path: save the current weights as F32, reopen them and build a fresh engine.</summary>
    private Generator RefreshPolicy(int length)
    {
        ReleasePolicy();
        var dir = Path.Combine(_work, "policy");
        TrainedCheckpoint.Save(_p, dir, DType.F32);
        _policyCheckpoint = Checkpoint.Open(dir);
        _policyBackend = new CpuBackend(_options.Threads);
        var transformer = new Transformer(_policyBackend, WeightMap.Bind(_policyCheckpoint), length);
        return new Generator(transformer, eosTokenIds: _options.StopAtEos ? null : [], contextLength: length, sampleableTokens: _options.SampleableTokens);
    }

    private void ReleasePolicy()
    {
        _policyBackend?.Dispose();
        _policyCheckpoint?.Dispose();
        (_policyBackend, _policyCheckpoint) = (null, null);
    }

    private void Update(double lr)
    {
        _updates++;
        foreach (var ((name, w), (_, g)) in _p.Tensors().Zip(_grads.Tensors()))
        {
            if (_options.Optimizer == OptimizerKind.Sgd)
            {
                Sgd.Step(w, g, lr);
                continue;
            }
            if (!_adam.TryGetValue(name, out var state)) _adam[name] = state = (new float[w.Length], new float[w.Length]);
            AdamW.Step(w, g, state.M, state.V, _updates, lr, _options.AdamW);
        }
    }
}
