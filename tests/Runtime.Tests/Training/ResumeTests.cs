using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Training;
using DeepSeek.Runtime.Training.Lora;
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
    public async Task Resuming_lora_training_with_dropout_reproduces_the_uninterrupted_run()
    {
        // The dropout masks are a function of (seed, step, micro-batch, sequence), so nothing but the checkpoint is needed.
        using var checkpoint = Checkpoint.Open(RepoPaths.TestData("models", "tiny-v3"));
        var map = WeightMap.Bind(checkpoint);
        var data = Data();
        var lora = new LoraOptions { Rank = 4, Alpha = 8, Dropout = 0.2, TargetModules = ["q_b_proj", "kv_b_proj", "o_proj", "gate_proj", "down_proj"] };
        SftTrainer Start(string dir) => new SftTrainer(ModelParameters<float>.Load(map), 12, Options(dir)).WithLora(LoraAdapter.Create(checkpoint.Config, lora), map);
        var straight = Start(_dir.File("la"));
        var expected = await straight.TrainAsync(data);

        using var cts = new CancellationTokenSource();
        var interrupted = Start(_dir.File("lb"));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => interrupted.TrainAsync(data, new CancelAt(4, cts), cts.Token));
        var latest = TrainingCheckpoint.Latest(_dir.File("lb"))!;
        Assert.EndsWith("step-000003", latest);
        var adapter = TrainingCheckpoint.LoadAdapter(latest, checkpoint.Config)!;
        Assert.Equal(0.2, adapter.Options.Dropout);                     // lora_dropout came back from adapter_config.json

        var resumed = SftTrainer.Resume(latest, 12, Options(_dir.File("lb"))).WithLora(adapter, map);
        var rest = await resumed.TrainAsync(data);

        Assert.Equal(expected.Skip(3).Select(p => p.Loss), rest.Select(p => p.Loss));   // bit for bit
        foreach (var (a, b) in straight.Lora!.Pairs.Zip(resumed.Lora!.Pairs))
        {
            Assert.True(a.A.AsSpan().SequenceEqual(b.A), $"{a.Target}: lora_A differs after resuming");
            Assert.True(a.B.AsSpan().SequenceEqual(b.B), $"{a.Target}: lora_B differs after resuming");
        }
        foreach (var ((name, a), (_, b)) in straight.Parameters.Tensors().Zip(resumed.Parameters.Tensors()))
            Assert.True(a.AsSpan().SequenceEqual(b), $"{name} differs after resuming");

        // Without dropout the same run takes another path: the masks are really in play.
        var noDropout = new SftTrainer(ModelParameters<float>.Load(map), 12, Options(_dir.File("lc")))
            .WithLora(LoraAdapter.Create(checkpoint.Config, lora with { Dropout = 0 }), map);
        Assert.NotEqual(expected.Select(p => p.Loss), (await noDropout.TrainAsync(data)).Select(p => p.Loss));
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
