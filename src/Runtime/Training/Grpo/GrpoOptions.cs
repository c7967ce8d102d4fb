using DeepSeek.Runtime.Training.Optimization;
using DeepSeek.Runtime.Training.Sft;

namespace DeepSeek.Runtime.Training.Grpo;

/// <summary>GRPO settings (DeepSeekMath §4.1 / DeepSeek-R1 §2.2.1); R1 used G = 16, ε = 0.2 (-ish), β = 0.001.</summary>
public sealed record GrpoOptions
{
    /// <summary>G: completions sampled per prompt; their rewards are normalised within the group.</summary>
    public int GroupSize { get; init; } = 8;

    /// <summary>Prompts per step (each yields <see cref="GroupSize"/> completions).</summary>
    public int PromptsPerStep { get; init; } = 4;

    /// <summary>Most tokens per completion.</summary>
    public int MaxCompletionTokens { get; init; } = 64;

    /// <summary>Sampling temperature of the rollouts (&gt; 0). The objective's π is the untempered model distribution.</summary>
    public double Temperature { get; init; } = 1.0;

    /// <summary>Stop a completion at the model's EOS ids (the EOS token is part of the completion and trained on).</summary>
    public bool StopAtEos { get; init; } = true;

    /// <summary>ε of the clipped ratio clip(ρ, 1−ε, 1+ε).</summary>
    public double ClipEpsilon { get; init; } = 0.2;

    /// <summary>β of the KL penalty against the frozen reference policy (R1: 0.001); 0 turns it off (no reference forward).</summary>
    public double KlBeta { get; init; } = 0.001;

    /// <summary>μ: optimizer updates per batch of rollouts (ratios are against the policy that sampled them).</summary>
    public int Epochs { get; init; } = 1;

    /// <summary>Optimizer steps = rollout batches.</summary>
    public int Steps { get; init; } = 100;

    /// <summary>Constant learning rate.</summary>
    public double LearningRate { get; init; } = 1e-6;

    /// <summary>Update rule.</summary>
    public OptimizerKind Optimizer { get; init; } = OptimizerKind.AdamW;

    /// <summary>AdamW hyper-parameters.</summary>
    public AdamWOptions AdamW { get; init; } = new() { WeightDecay = 0.0 };

    /// <summary>Global gradient-norm bound; 0 turns clipping off.</summary>
    public double MaxGradNorm { get; init; } = 1.0;

    /// <summary>Seed of the prompt order and of every rollout's sampler.</summary>
    public int Seed { get; init; } = 1;

    /// <summary>
    /// Ids at or above this are never sampled: the tokenizer's size where <c>vocab_size</c> is padded past it (an id no
    /// tokenizer can decode must never be produced). Null samples the whole vocabulary.
    /// </summary>
    public int? SampleableTokens { get; init; }

    /// <summary>CPU threads of the sampling engine (0 = all cores).</summary>
    public int Threads { get; init; }

    /// <summary>Folder for resumable checkpoints (<c>step-NNNNNN/</c>, plus the frozen reference once in <c>reference/</c>); null writes none.</summary>
    public string? CheckpointDirectory { get; init; }

    /// <summary>Write a checkpoint every this many steps (and after the last); 0 = only after the last when a folder is set.</summary>
    public int CheckpointEvery { get; init; }

    /// <summary>Throws when a value is out of range, naming it.</summary>
    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(GroupSize, 2);
        ArgumentOutOfRangeException.ThrowIfLessThan(PromptsPerStep, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxCompletionTokens, 1);
        if (!(Temperature > 0) || !double.IsFinite(Temperature)) throw new ArgumentOutOfRangeException(nameof(Temperature), Temperature, "must be positive (rollouts are sampled)");
        if (!(ClipEpsilon > 0 && ClipEpsilon < 1)) throw new ArgumentOutOfRangeException(nameof(ClipEpsilon), ClipEpsilon, "must be in (0, 1)");
        if (!(KlBeta >= 0) || !double.IsFinite(KlBeta)) throw new ArgumentOutOfRangeException(nameof(KlBeta), KlBeta, "must be ≥ 0");
        ArgumentOutOfRangeException.ThrowIfLessThan(Epochs, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(Steps, 1);
        if (SampleableTokens is { } sampleable) ArgumentOutOfRangeException.ThrowIfLessThan(sampleable, 1, nameof(SampleableTokens));
        if (!(LearningRate > 0)) throw new ArgumentOutOfRangeException(nameof(LearningRate), LearningRate, "must be positive");
        if (!(MaxGradNorm >= 0)) throw new ArgumentOutOfRangeException(nameof(MaxGradNorm), MaxGradNorm, "must be ≥ 0");
        ArgumentOutOfRangeException.ThrowIfNegative(Threads);
        AdamW.Validate();
    }
}

/// <summary>What one GRPO step did.</summary>
/// <param name="Step">1-based step.</param>
/// <param name="Steps">Total steps.</param>
/// <param name="MeanReward">Mean reward of the step's completions.</param>
/// <param name="RewardStd">Standard deviation (population) of the step's rewards.</param>
/// <param name="Kl">Mean per-token k3 KL estimate to the reference policy, before the step's updates.</param>
/// <param name="ClipFraction">Fraction of completion tokens whose ratio was clipped on the active side, over all μ epochs.</param>
/// <param name="MeanCompletionLength">Mean completion length in tokens (a final stop token included).</param>
/// <param name="Loss">GRPO loss of the first epoch (the value whose gradient is the first update).</param>
/// <param name="GradNorm">Global gradient norm before clipping, of the last epoch.</param>
/// <param name="LearningRate">Rate used.</param>
public readonly record struct GrpoProgress(int Step, int Steps, double MeanReward, double RewardStd, double Kl, double ClipFraction,
    double MeanCompletionLength, double Loss, double GradNorm, double LearningRate);
