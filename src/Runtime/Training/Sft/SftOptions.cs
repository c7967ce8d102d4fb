using DeepSeek.Runtime.Training.Optimization;

namespace DeepSeek.Runtime.Training.Sft;

/// <summary>Which update rule a trainer applies.</summary>
public enum OptimizerKind
{
    /// <summary>AdamW with decoupled weight decay (<see cref="AdamWOptions"/>).</summary>
    AdamW,
    /// <summary>Plain SGD: W ← W − lr·g.</summary>
    Sgd,
}

/// <summary>Supervised fine-tuning settings (defaults suit a small fine-tune; DeepSeek's pre-training values are in MODEL.md).</summary>
public sealed record SftOptions
{
    /// <summary>Update rule.</summary>
    public OptimizerKind Optimizer { get; init; } = OptimizerKind.AdamW;

    /// <summary>AdamW hyper-parameters.</summary>
    public AdamWOptions AdamW { get; init; } = new() { WeightDecay = 0.0 };

    /// <summary>Peak learning rate.</summary>
    public double LearningRate { get; init; } = 1e-4;

    /// <summary>Linear warm-up steps (then constant).</summary>
    public int WarmupSteps { get; init; }

    /// <summary>
    /// Learning rate the cosine decay reaches at the last step; null keeps <see cref="LearningRate"/> constant after warm-up.
    /// </summary>
    public double? MinLearningRate { get; init; }

    /// <summary>Optimizer steps.</summary>
    public int Steps { get; init; } = 100;

    /// <summary>Sequences per micro-batch.</summary>
    public int BatchSize { get; init; } = 8;

    /// <summary>Micro-batches whose gradients are averaged into one step.</summary>
    public int GradientAccumulation { get; init; } = 1;

    /// <summary>Global gradient-norm bound; 0 turns clipping off.</summary>
    public double MaxGradNorm { get; init; } = 1.0;

    /// <summary>γ of the aux-loss-free router-bias update (V3: 0.001); 0 turns it off.</summary>
    public float BiasUpdateSpeed { get; init; } = 0.001f;

    /// <summary>λ of the MTP loss (V3: 0.3 early, 0.1 later); 0 turns it off. Ignored without an MTP module.</summary>
    public double MtpWeight { get; init; } = 0.3;

    /// <summary>
    /// α of the complementary sequence-wise MoE balance loss (DeepSeek-V3 §2.1.2; V3: 0.0001), added to the loss; 0 (the
    /// default) turns it off. Ignored without MoE layers.
    /// </summary>
    public double BalanceLossAlpha { get; init; }

    /// <summary>Keep only each block's input and recompute its activations just before its backward (less memory, ~⅓ more compute).</summary>
    public bool RecomputeActivations { get; init; }

    /// <summary>Visit examples in a seeded random order each epoch instead of file order.</summary>
    public bool Shuffle { get; init; }

    /// <summary>Seed of the shuffle.</summary>
    public int Seed { get; init; } = 1;

    /// <summary>Folder for resumable checkpoints (<c>step-NNNNNN/</c>); null writes none.</summary>
    public string? CheckpointDirectory { get; init; }

    /// <summary>Write a checkpoint every this many steps (and after the last); 0 = only after the last when a folder is set.</summary>
    public int CheckpointEvery { get; init; }

    /// <summary>Throws when a value is out of range, naming it.</summary>
    public void Validate()
    {
        if (!(LearningRate > 0)) throw new ArgumentOutOfRangeException(nameof(LearningRate), LearningRate, "must be positive");
        ArgumentOutOfRangeException.ThrowIfNegative(WarmupSteps);
        if (MinLearningRate is { } min && !(min >= 0 && min <= LearningRate))
            throw new ArgumentOutOfRangeException(nameof(MinLearningRate), min, "must be in [0, LearningRate]");
        ArgumentOutOfRangeException.ThrowIfLessThan(Steps, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(BatchSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(GradientAccumulation, 1);
        if (!(MaxGradNorm >= 0)) throw new ArgumentOutOfRangeException(nameof(MaxGradNorm), MaxGradNorm, "must be ≥ 0");
        if (!(BiasUpdateSpeed >= 0)) throw new ArgumentOutOfRangeException(nameof(BiasUpdateSpeed), BiasUpdateSpeed, "must be ≥ 0");
        if (!(MtpWeight >= 0)) throw new ArgumentOutOfRangeException(nameof(MtpWeight), MtpWeight, "must be ≥ 0");
        if (!(BalanceLossAlpha >= 0) || double.IsInfinity(BalanceLossAlpha)) throw new ArgumentOutOfRangeException(nameof(BalanceLossAlpha), BalanceLossAlpha, "must be finite and ≥ 0");
        ArgumentOutOfRangeException.ThrowIfNegative(CheckpointEvery);
        AdamW.Validate();
    }
}

/// <summary>What one optimizer step did.</summary>
/// <param name="Step">1-based step.</param>
/// <param name="Steps">Total steps.</param>
/// <param name="Loss">L_main + λ·L_mtp (+ the balance loss when α &gt; 0), averaged over the step's micro-batches.</param>
/// <param name="MainLoss">Next-token cross-entropy.</param>
/// <param name="MtpLoss">MTP cross-entropy (0 when off).</param>
/// <param name="LearningRate">Rate used.</param>
/// <param name="GradNorm">Global gradient norm before clipping.</param>
/// <param name="TokensPerSecond">Trained tokens per second over the step.</param>
/// <param name="LoadImbalance">Worst max/mean expert load over the MoE layers (1 = balanced; 0 without MoE).</param>
public readonly record struct TrainingProgress(int Step, int Steps, double Loss, double MainLoss, double MtpLoss, double LearningRate, double GradNorm, double TokensPerSecond, double LoadImbalance);
