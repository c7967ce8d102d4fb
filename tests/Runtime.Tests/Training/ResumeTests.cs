using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Training;
using DeepSeek.Runtime.Training.Sft;

namespace DeepSeek.Runtime.Tests.Training;

/// <summary>Training checkpoints: a cancelled run resumed from its last checkpoint reproduces the uninterrupted run bit for bit.</summary>
public sealed class ResumeTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private static ModelParameters<float> Fresh()
    {
        using var checkpoint = Checkpoint.Open(RepoPaths.TestData("models", "tiny-v3"));
        return ModelParameters<float>.Load(WeightMap.Bind(checkpoint));
    }

    private static List<TrainingSequence> Data()
    {
        var rng = new Random(4);
        return Enumerable.Range(0, 5).Select(_ => new TrainingSequence(Enumerable.Range(0, 12).Select(_ => rng.Next(2, 256)).ToArray())).ToList();
    }

    private SftOptions Options(string checkpoints) => new()
    {
        Steps = 6, BatchSize = 2, GradientAccumulation = 2, LearningRate = 3e-3, Shuffle = true, Seed = 9,
        MtpWeight = 0.3, BiasUpdateSpeed = 0.01f, MaxGradNorm = 1.0, CheckpointDirectory = checkpoints, CheckpointEvery = 3,
    };

    private sealed class CancelAt(int step, CancellationTokenSource cts) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value)
        {
            if (value.Step == step) cts.Cancel();
        }
    }

    [Fact]
    public async Task Resuming_after_cancellation_reproduces_the_uninterrupted_run()
    {
        var data = Data();
        var straight = new SftTrainer(Fresh(), 12, Options(_dir.File("a")));
        var expected = await straight.TrainAsync(data);

        using var cts = new CancellationTokenSource();
        var interrupted = new SftTrainer(Fresh(), 12, Options(_dir.File("b")));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => interrupted.TrainAsync(data, new CancelAt(4, cts), cts.Token));

        var latest = TrainingCheckpoint.Latest(_dir.File("b"));
        Assert.EndsWith("step-000003", latest);                        // step 4 was never checkpointed: the last one is intact
        Assert.Single(Directory.GetDirectories(_dir.File("b")));        // and no temporary folder was left behind

        var resumed = SftTrainer.Resume(latest!, 12, Options(_dir.File("b")));
        Assert.Equal(3, resumed.CompletedSteps);
        var rest = await resumed.TrainAsync(data);

        Assert.Equal(expected.Skip(3).Select(p => p.Loss), rest.Select(p => p.Loss));   // bit for bit
        foreach (var ((name, a), (_, b)) in straight.Parameters.Tensors().Zip(resumed.Parameters.Tensors()))
            Assert.True(a.AsSpan().SequenceEqual(b), $"{name} differs after resuming");
        Assert.Equal(straight.Parameters.RouterBias.Where(b => b is not null).SelectMany(b => b!), resumed.Parameters.RouterBias.Where(b => b is not null).SelectMany(b => b!));
        Assert.True(expected[^1].Loss < expected[0].Loss);
    }

    [Fact]
    public void Checkpoints_are_loadable_hugging_face_folders()
    {
        var trainer = new SftTrainer(Fresh(), 12, Options(_dir.File("c")) with { Steps = 3 });
        trainer.Train(Data());
        var folder = TrainingCheckpoint.Latest(_dir.File("c"))!;
        using var checkpoint = Checkpoint.Open(folder);
        Assert.True(WeightReport.Check(checkpoint).IsValid);
        Assert.True(File.Exists(Path.Combine(folder, "optimizer.safetensors")));
        Assert.Equal(3, TrainingCheckpoint.Load(folder).Position.Step);
    }
}
