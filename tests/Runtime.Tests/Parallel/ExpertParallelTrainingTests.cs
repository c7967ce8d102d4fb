using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Distributed;
using DeepSeek.Runtime.Training;
using DeepSeek.Runtime.Training.Sft;

namespace DeepSeek.Runtime.Tests.Distributed;

/// <summary>SFT with the routed experts sharded over expert groups (world = E × D) against single-process SFT.</summary>
public sealed class ExpertParallelTrainingTests
{
    private const int Length = 12;

    private static ModelParameters<float> Load() => TinyV3Sft.Load();

    private static List<TrainingSequence> Data(int vocab) => TinyV3Sft.Sequences(vocab, count: 16, Length, seed: 23, maskPeriod: 4);

    [Theory]
    [InlineData(2, 2, false)]   // E = world: every rank holds half the experts
    [InlineData(4, 2, false)]   // E = 2, D = 2: two copies of each expert shard
    [InlineData(4, 4, true)]    // E = 4 (2 experts per rank), with activation recomputation (forwards repeated collectively)
    public void Expert_parallel_SFT_gives_the_single_process_weights(int ranks, int expertParallel, bool recompute)
    {
        var options = new SftOptions
        {
            // As the ZeRO-1 test: lr 1e-3 keeps AdamW's amplification of summation-order rounding below 1e-6.
            Steps = 3, BatchSize = 4, LearningRate = 1e-3, MaxGradNorm = 0.5, BiasUpdateSpeed = 0.001f, MtpWeight = 0.3,
            BalanceLossAlpha = 0.01, Shuffle = true, Seed = 5, RecomputeActivations = recompute,
        };
        var single = Load();
        var data = Data(single.Config.VocabSize);
        var expected = new SftTrainer(single, Length, options).Train(data);

        var results = Ranks.Run(ranks, c =>
        {
            using var experts = new CountingCommunicator(DataParallelSftTrainer.SplitExpertGroups(c, expertParallel));
            var trainer = new DataParallelSftTrainer(Load(), Length, options, c, experts);
            Assert.Equal(expertParallel, trainer.ExpertParallelSize);
            var history = trainer.Train(data);
            return (history, trainer.Parameters, experts.AllToAllVCalls, experts.Size);
        });

        foreach (var (history, parameters, exchanges, groupSize) in results)
        {
            Assert.Equal(expertParallel, groupSize);
            // Tokens really crossed ranks: per step, per sequence of the rank, per MoE block (2 main + 1 MTP), forward and backward.
            Assert.True(exchanges >= options.Steps * (options.BatchSize / ranks) * 3 * 2, $"only {exchanges} all-to-all-v calls");
            for (var s = 0; s < history.Count; s++)
                Assert.True(Math.Abs(expected[s].Loss - history[s].Loss) <= 1e-6 * expected[s].Loss, $"step {s + 1} loss {history[s].Loss:R} vs {expected[s].Loss:R}");
            foreach (var ((name, want), (_, got)) in single.Tensors().Zip(parameters.Tensors()))
            {
                var norm = Math.Sqrt(want.Sum(a => (double)a * a));
                var delta = Math.Sqrt(want.Zip(got, (a, b) => (double)(a - b) * (a - b)).Sum());
                Assert.True(delta <= 1e-6 * norm, $"{name}: ‖Δ‖ {delta:G3} against ‖w‖ {norm:G3}");
            }
            for (var layer = 0; layer < single.RouterBias.Length; layer++)
                if (single.RouterBias[layer] is { } bias) Assert.Equal(bias, parameters.RouterBias[layer]!);
        }
        // Training moved the experts (the comparison is not between untouched copies), and every rank agrees bit for bit.
        Assert.Contains(single.Tensors().Zip(Load().Tensors()), p => p.First.Name.Contains("experts.", StringComparison.Ordinal) && !p.First.Values.AsSpan().SequenceEqual(p.Second.Values));
        foreach (var (_, parameters, _, _) in results.Skip(1))
            Assert.All(results[0].Parameters.Tensors().Zip(parameters.Tensors()), p => Assert.Equal(p.First.Values, p.Second.Values));
    }

    [Fact]
    public void An_expert_parallel_size_that_does_not_divide_the_ranks_is_refused()
    {
        var e = Assert.Throws<ArgumentException>(() => DataParallelSftTrainer.SplitExpertGroups(InProcessCommunicator.Create(4)[0], 3));
        Assert.Contains("--expert-parallel 3 must be at least 1 and divide the 4 ranks", e.Message);
        Assert.Throws<ArgumentException>(() => DataParallelSftTrainer.SplitExpertGroups(InProcessCommunicator.Create(2)[0], 0));
    }

    [Fact]
    public void Experts_that_do_not_divide_over_the_group_are_refused_on_every_rank()
    {
        // tiny-v3 has 8 routed experts: 3 ranks cannot hold equal shares. Every rank fails the same way, none hangs.
        var errors = new Exception?[3];
        Assert.ThrowsAny<Exception>(() => Ranks.Run(3, c =>
        {
            try
            {
                _ = new DataParallelSftTrainer(Load(), Length, new SftOptions { BatchSize = 3 }, c, c);
            }
            catch (Exception ex)
            {
                errors[c.Rank] = ex;
                throw;
            }
        }));
        // Each rank ends with the layout error (or, if another rank broke the group first, with that rank's failure).
        Assert.All(errors, e => Assert.True(e is RankFailedException || e is ArgumentException a && a.Message.Contains("8 routed experts (n_routed_experts) to divide evenly over 3 ranks", StringComparison.Ordinal), e?.ToString()));
        Assert.Contains(errors, e => e is ArgumentException);
    }
}
