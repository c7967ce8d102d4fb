using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Distributed;
using DeepSeek.Runtime.Training;
using DeepSeek.Runtime.Training.Sft;

namespace DeepSeek.Runtime.Tests.Distributed;

public sealed class DataParallelTests
{
    private const int Length = 12;

    private static ModelParameters<float> Load() => TinyV3Sft.Load();

    private static List<TrainingSequence> Data(int vocab) => TinyV3Sft.Sequences(vocab, count: 16, Length, seed: 17, maskPeriod: 5);

    [Theory]
    [InlineData(2, 1, OptimizerKind.AdamW)]
    [InlineData(4, 2, OptimizerKind.AdamW)]
    [InlineData(2, 1, OptimizerKind.Sgd)]
    public void ZeRO1_gives_the_single_process_weights_for_the_same_global_batch(int ranks, int accumulation, OptimizerKind optimizer)
    {
        var options = new SftOptions
        {
            // AdamW's m/√v turns rounding-level differences in near-zero gradients (the summation order differs: per rank,
            // then across ranks) into differences proportional to lr; at 1e-3 (10× the SFT default) they stay below 1e-6.
            // A warm-up step and a cosine decay to a tenth: each step runs at its own scheduled rate on every rank.
            Steps = 3, BatchSize = 4, GradientAccumulation = accumulation, LearningRate = optimizer == OptimizerKind.Sgd ? 1e-2 : 1e-3, Optimizer = optimizer,
            WarmupSteps = 1, MinLearningRate = optimizer == OptimizerKind.Sgd ? 1e-3 : 1e-4,
            MaxGradNorm = 0.5, BiasUpdateSpeed = 0.001f, MtpWeight = 0.3, BalanceLossAlpha = 0.01, Shuffle = true, Seed = 3,
        };
        var single = Load();
        var data = Data(single.Config.VocabSize);
        var expected = new SftTrainer(single, Length, options).Train(data);

        var results = Ranks.Run(ranks, c =>
        {
            var trainer = new DataParallelSftTrainer(Load(), Length, options, c);
            return (trainer.Train(data), trainer.Parameters, trainer.ShardLength);
        });

        foreach (var (history, parameters, shard) in results)
        {
            Assert.Equal(options.Steps, history.Count);
            for (var s = 0; s < history.Count; s++)
            {
                // Losses are float sums in a different order (per rank, then across ranks): equal to fp32 rounding.
                Assert.True(Math.Abs(expected[s].Loss - history[s].Loss) <= 1e-6 * expected[s].Loss, $"step {s + 1} loss {history[s].Loss:R} vs {expected[s].Loss:R}");
                Assert.True(Math.Abs(expected[s].GradNorm - history[s].GradNorm) <= 1e-5 * expected[s].GradNorm, $"step {s + 1} norm {history[s].GradNorm:R} vs {expected[s].GradNorm:R}");
                Assert.Equal(expected[s].LearningRate, history[s].LearningRate);
            }
            Assert.True(shard * ranks >= parameters.Tensors().Sum(t => t.Values.Length));
            foreach (var ((name, want), (_, got)) in single.Tensors().Zip(parameters.Tensors()))
            {
                // Relative difference of each tensor: ‖Δ‖₂ ≤ 1e-6·‖w‖₂ (SGD also element by element against max |w|).
                var norm = Math.Sqrt(want.Sum(a => (double)a * a));
                var delta = Math.Sqrt(want.Zip(got, (a, b) => (double)(a - b) * (a - b)).Sum());
                Assert.True(delta <= 1e-6 * norm, $"{name}: ‖Δ‖ {delta:G3} against ‖w‖ {norm:G3}");
                if (optimizer == OptimizerKind.Sgd)
                {
                    var worst = want.Zip(got, (a, b) => Math.Abs(a - b)).Max();
                    Assert.True(worst <= 1e-6 * want.Max(MathF.Abs), $"{name}: max |Δ| {worst:G3}");
                }
            }
            for (var layer = 0; layer < single.RouterBias.Length; layer++)
                if (single.RouterBias[layer] is { } bias) Assert.Equal(bias, parameters.RouterBias[layer]!);
        }
        // The run moved the weights: the comparison is not between two untouched copies.
        Assert.Contains(single.Tensors().Zip(Load().Tensors()), p => !p.First.Values.AsSpan().SequenceEqual(p.Second.Values));
        // Every rank ends with the same weights, bit for bit.
        foreach (var (_, parameters, _) in results.Skip(1))
            Assert.All(results[0].Parameters.Tensors().Zip(parameters.Tensors()), p => Assert.Equal(p.First.Values, p.Second.Values));
    }

    [Fact]
    public void A_batch_that_does_not_divide_over_the_ranks_is_refused()
    {
        var c = InProcessCommunicator.Create(3)[0];
        var e = Assert.Throws<ArgumentException>(() => new DataParallelSftTrainer(Load(), Length, new SftOptions { BatchSize = 4 }, c));
        Assert.Contains("divisible by 3", e.Message);
    }

    [Fact]
    public void A_rank_failing_mid_step_ends_the_others_with_a_typed_error_and_keeps_the_last_checkpoint()
    {
        using var dir = new TempDir();
        var options = new SftOptions { Steps = 4, BatchSize = 2, LearningRate = 1e-3, CheckpointDirectory = dir.Path, CheckpointEvery = 1 };
        var data = Data(Load().Config.VocabSize);
        var outcomes = new Exception?[2];
        var error = Assert.Throws<RankFailedException>(() => Ranks.Run(2, c =>
        {
            var trainer = new DataParallelSftTrainer(Load(), Length, options, c);
            // Rank 1 fails while reading step 3's batch (after two checkpoints); rank 0 is then waiting for its gradients.
            var mine = c.Rank == 1 ? new FailingList(data, failAt: 2 * options.BatchSize) : (IReadOnlyList<TrainingSequence>)data;
            try
            {
                trainer.Train(mine);
            }
            catch (Exception e)
            {
                outcomes[c.Rank] = e;
                throw;
            }
        }, operationTimeout: TimeSpan.FromSeconds(60)));
        Assert.Equal(1, error.FailedRank);
        Assert.Contains("lost its device", error.Message);
        Assert.Equal(1, Assert.IsType<RankFailedException>(outcomes[0]).FailedRank);
        var saved = Directory.GetDirectories(dir.Path).Select(Path.GetFileName).Order().ToArray();
        Assert.Contains("step-000002", saved);
        Assert.DoesNotContain("step-000003", saved);
        var (position, _, _, _) = TrainingCheckpoint.Load(Path.Combine(dir.Path, "step-000002"));
        Assert.Equal(2, position.Step);
    }

    private sealed class FailingList(List<TrainingSequence> data, int failAt) : IReadOnlyList<TrainingSequence>
    {
        private int _reads;

        public TrainingSequence this[int index] =>
            ++_reads > failAt ? throw new InvalidOperationException("rank 1 lost its device") : data[index];

        public int Count => data.Count;

        public IEnumerator<TrainingSequence> GetEnumerator() => data.GetEnumerator();

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }
}
