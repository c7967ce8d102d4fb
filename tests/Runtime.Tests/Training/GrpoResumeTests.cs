using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Training;
using DeepSeek.Runtime.Training.Grpo;
using DeepSeek.Runtime.Training.Sft;

namespace DeepSeek.Runtime.Tests.Training;

/// <summary>GRPO checkpoints: a cancelled run resumed from its last checkpoint reproduces the uninterrupted run.</summary>
public sealed class GrpoResumeTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private static ModelParameters<float> Fresh()
    {
        using var checkpoint = Checkpoint.Open(RepoPaths.TestData("models", "tiny-qwen2"));
        return ModelParameters<float>.Load(WeightMap.Bind(checkpoint));
    }

    private static readonly int[][] Prompts = [[0, 17, 33], [0, 90, 4, 12], [0, 200], [0, 55, 61], [0, 3, 140, 9]];

    private static readonly Func<RewardContext, double>[] Reward = [Rewards.TokenFraction(id => id is >= 128 and < 160)];

    private GrpoOptions Options(string root) => new()
    {
        GroupSize = 4, PromptsPerStep = 2, MaxCompletionTokens = 5, Steps = 4, Epochs = 2, LearningRate = 1e-2,
        Optimizer = OptimizerKind.AdamW, KlBeta = 0.001, Seed = 5, CheckpointDirectory = root, CheckpointEvery = 2,
    };

    private sealed class CancelAt(int step, CancellationTokenSource cts) : IProgress<GrpoProgress>
    {
        public void Report(GrpoProgress value)
        {
            if (value.Step == step) cts.Cancel();
        }
    }

    [Fact]
    public void Resuming_after_cancellation_reproduces_the_uninterrupted_run()
    {
        var straightWeights = Fresh();
        using var straight = new GrpoTrainer(straightWeights, Options(_dir.File("a")), Reward);
        var expected = straight.Train(Prompts);

        using var cts = new CancellationTokenSource();
        var interruptedWeights = Fresh();
        using (var interrupted = new GrpoTrainer(interruptedWeights, Options(_dir.File("b")), Reward))
            Assert.ThrowsAny<OperationCanceledException>(() => interrupted.Train(Prompts, new CancelAt(3, cts), cts.Token));

        var latest = TrainingCheckpoint.Latest(_dir.File("b"));
        Assert.EndsWith("step-000002", latest);
        using var resumed = GrpoTrainer.Resume(latest!, Options(_dir.File("b")), Reward);
        Assert.Equal(2, resumed.CompletedSteps);
        var rest = resumed.Train(Prompts);

        Assert.Equal(expected.Skip(2).Select(p => (p.MeanReward, p.Kl, p.Loss)), rest.Select(p => (p.MeanReward, p.Kl, p.Loss)));
        var final = TrainingCheckpoint.Load(TrainingCheckpoint.Latest(_dir.File("b"))!).Parameters;
        foreach (var ((name, a), (_, b)) in straightWeights.Tensors().Zip(final.Tensors()))
            Assert.True(a.AsSpan().SequenceEqual(b), $"{name} differs after resuming");
    }
}
