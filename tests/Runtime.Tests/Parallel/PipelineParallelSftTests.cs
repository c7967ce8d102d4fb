using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Distributed;
using DeepSeek.Runtime.Distributed.Pipeline;
using DeepSeek.Runtime.Training;
using DeepSeek.Runtime.Training.Sft;

namespace DeepSeek.Runtime.Tests.Distributed;

/// <summary>Pipeline-parallel SFT (fp32, tiny-v3: 3 layers, MoE, MTP) against the single-process trainer on the same global batch.</summary>
public sealed class PipelineParallelSftTests
{
    private const int Length = 12;

    private static ModelParameters<float> Load() => TinyV3Sft.Load();

    private static List<TrainingSequence> Data(int vocab) => TinyV3Sft.Sequences(vocab, count: 12, Length, seed: 23, maskPeriod: 4);

    [Theory]
    [InlineData(PipelineScheduleKind.OneFOneB, 2, 1, 1, 4)]
    [InlineData(PipelineScheduleKind.OneFOneB, 3, 1, 2, 4)]
    [InlineData(PipelineScheduleKind.DualPipe, 2, 1, 1, 4)]
    [InlineData(PipelineScheduleKind.OneFOneB, 2, 2, 1, 4)]      // world 4 = P 2 × D 2
    [InlineData(PipelineScheduleKind.DualPipe, 2, 2, 2, 8)]
    public void Pipelined_training_gives_the_single_process_weights(PipelineScheduleKind kind, int stages, int replicas, int accumulation, int batchSize)
    {
        using var dir = new TempDir();
        var options = new SftOptions
        {
            // As the ZeRO-1 test: lr 1e-3 keeps AdamW's amplification of rounding-level gradient differences below 1e-6.
            Steps = 3, BatchSize = batchSize, GradientAccumulation = accumulation, LearningRate = 1e-3, MaxGradNorm = 0.5, BiasUpdateSpeed = 0.001f,
            MtpWeight = 0.3, BalanceLossAlpha = 0.01, Shuffle = true, Seed = 3,
        };
        var single = Load();
        var data = Data(single.Config.VocabSize);
        var expected = new SftTrainer(single, Length, options).Train(data);

        var results = Ranks.Run(stages * replicas, c =>
        {
            var (pipeline, replica) = PipelineParallelSftTrainer.SplitGroups(c, stages);
            using (pipeline)
            using (replica)
            {
                var trainer = new PipelineParallelSftTrainer(Load(), Length, options with { CheckpointDirectory = dir.Path }, pipeline, replica, kind);
                return (History: trainer.Train(data), trainer.Parameters);
            }
        });

        for (var s = 0; s < options.Steps; s++)
            foreach (var (history, _) in results)
            {
                Assert.True(Math.Abs(expected[s].Loss - history[s].Loss) <= 1e-6 * expected[s].Loss, $"step {s + 1} loss {history[s].Loss:R} vs {expected[s].Loss:R}");
                Assert.True(Math.Abs(expected[s].GradNorm - history[s].GradNorm) <= 1e-5 * expected[s].GradNorm, $"step {s + 1} norm {history[s].GradNorm:R} vs {expected[s].GradNorm:R}");
            }
        var gathered = results[0].Parameters;
        foreach (var ((name, want), (_, got)) in single.Tensors().Zip(gathered.Tensors()))
        {
            var norm = Math.Sqrt(want.Sum(a => (double)a * a));
            var delta = Math.Sqrt(want.Zip(got, (a, b) => (double)(a - b) * (a - b)).Sum());
            Assert.True(delta <= 1e-6 * norm, $"{name}: ‖Δ‖ {delta:G3} against ‖w‖ {norm:G3}");
        }
        for (var layer = 0; layer < single.RouterBias.Length; layer++)
            if (single.RouterBias[layer] is { } bias) Assert.Equal(bias, gathered.RouterBias[layer]!);
        Assert.Contains(single.Tensors().Zip(Load().Tensors()), p => !p.First.Values.AsSpan().SequenceEqual(p.Second.Values));

        // Rank 0's checkpoint holds the gathered weights and every tensor's moments, as a single-process one does.
        var (position, saved, adam, losses) = TrainingCheckpoint.Load(Path.Combine(dir.Path, "step-000003"));
        Assert.Equal(3, position.Step);
        Assert.Equal(3, losses.Count);
        foreach (var ((name, want), (_, got)) in gathered.Tensors().Zip(saved.Tensors()))
        {
            Assert.Equal(want, got);
            Assert.Equal(want.Length, adam[name].V.Length);
        }
        Assert.Contains(adam["model.layers.2.mlp.shared_experts.up_proj.weight"].V, v => v > 0);
        Assert.Contains(adam["model.embed_tokens.weight"].V, v => v > 0);
    }

    [Fact]
    public void A_batch_the_replicas_cannot_share_is_refused()
    {
        var e = Assert.IsAssignableFrom<ArgumentException>(Assert.Throws<RankFailedException>(() => Ranks.Run(4, c =>
        {
            var (pipeline, replica) = PipelineParallelSftTrainer.SplitGroups(c, 2);
            return new PipelineParallelSftTrainer(Load(), Length, new SftOptions { BatchSize = 3 }, pipeline, replica, PipelineScheduleKind.OneFOneB);
        })).InnerException);
        Assert.Contains("divisible by 2", e.Message);
    }

    [Fact]
    public void A_batch_dualpipe_cannot_split_is_refused_naming_the_batch_size()
    {
        var e = Assert.Throws<PipelineScheduleException>(() =>
            new PipelineParallelSftTrainer(Load(), Length, new SftOptions { BatchSize = 3 }, InProcessCommunicator.Create(2)[0], PipelineScheduleKind.DualPipe));
        Assert.Contains("--batch-size, divided over the pipeline replicas: 3 per replica", e.Message);
    }
}
