using DeepSeek.Runtime.Distributed;
using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Distributed.Pipeline;
using DeepSeek.Runtime.Tests.Checkpoints;
using DeepSeek.Runtime.Training;

namespace DeepSeek.Runtime.Tests.Distributed.Pipeline;

/// <summary>The real decoder cut into pipeline stages, in float64, against the single-process model on the same batch.</summary>
public class TransformerPipelineTests
{
    private const int Length = 7;
    private const double Lambda = 0.3, Alpha = 0.01;

    /// <summary>Four layers (one dense, three MoE with noaux_tc routing), MTP, untied head.</summary>
    private static ModelParameters<double> Model(bool mtpCopies)
    {
        var config = ModelConfig.Parse(ConfigFixtures.TinyV3) with
        {
            VocabSize = 16, HiddenSize = 8, IntermediateSize = 12, MoeIntermediateSize = 4, NumHiddenLayers = 4, FirstKDenseReplace = 1,
            NumAttentionHeads = 2, NumKeyValueHeads = 2, QLoraRank = 6, KvLoraRank = 5, QkNopeHeadDim = 4, QkRopeHeadDim = 2, VHeadDim = 3,
            NRoutedExperts = 8, NSharedExperts = 1, NumExpertsPerTok = 2, NGroup = 4, TopKGroup = 2, NumNextNPredictLayers = 1,
            BosTokenId = 0, EosTokenIds = [1],
        };
        var rng = new Random(5);
        var p = ModelParameters<double>.Zeros(config, mtpCopies);
        foreach (var (name, values) in p.Tensors())
            for (var i = 0; i < values.Length; i++)
                values[i] = name.EndsWith("norm.weight", StringComparison.Ordinal) ? 1 + 0.2 * (rng.NextDouble() - 0.5) : (rng.NextDouble() - 0.5) * 0.8;
        foreach (var bias in p.RouterBias) if (bias is not null) for (var e = 0; e < bias.Length; e++) bias[e] = (float)(rng.NextDouble() * 0.2 - 0.1);
        return p;
    }

    /// <summary>Eight sequences with different loss masks, so the batch means weigh the sequences unequally.</summary>
    private static List<TrainingSequence> Batch()
    {
        var rng = new Random(11);
        return Enumerable.Range(0, 8).Select(i => new TrainingSequence(
            Enumerable.Range(0, Length).Select(_ => rng.Next(0, 16)).ToArray(),
            Enumerable.Range(0, Length).Select(t => t >= i % 3).ToArray())).ToList();
    }

    public static TheoryData<PipelineScheduleKind, int, bool> Cases() => new()
    {
        { PipelineScheduleKind.OneFOneB, 2, false },
        { PipelineScheduleKind.OneFOneB, 3, false },
        { PipelineScheduleKind.OneFOneB, 3, true },
        { PipelineScheduleKind.DualPipe, 2, false },
        { PipelineScheduleKind.DualPipe, 4, false },
        { PipelineScheduleKind.DualPipe, 4, true },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Loss_and_every_gradient_equal_the_single_process_model(PipelineScheduleKind kind, int stages, bool mtpCopies)
    {
        var p = Model(mtpCopies);
        var batch = Batch();
        var single = new TrainableModel<double>(p, Length, Alpha);
        var expected = ModelParameters<double>.ZerosLike(p);
        var loss = single.ForwardBackward(batch, expected, Lambda);
        var expectedLoad = single.ExpertLoad.Select(l => l?.ToArray()).ToArray();

        var results = Ranks.Run(stages, c =>
        {
            var pipeline = new TransformerPipeline<double>(c, p, Length, kind, Alpha);
            var grads = ModelParameters<double>.ZerosLike(p);
            var l = pipeline.ForwardBackward(batch, grads, Lambda);
            return (Loss: l, Grads: grads, Held: p.Tensors().Select(t => t.Name).Where(pipeline.Holds).ToHashSet(), pipeline.ExpertLoad);
        });

        Assert.True(loss.Mtp > 0 && loss.Balance > 0);
        var covered = new HashSet<string>();
        foreach (var r in results)
        {
            Assert.Equal(loss.Main, r.Loss.Main, 1e-12);
            Assert.Equal(loss.Mtp, r.Loss.Mtp, 1e-12);
            Assert.Equal(loss.Balance, r.Loss.Balance, 1e-12);
            Assert.Equal(loss.Total, r.Loss.Total, 1e-12);
            for (var layer = 0; layer < expectedLoad.Length; layer++) Assert.Equal(expectedLoad[layer], r.ExpertLoad[layer]);
            var got = r.Grads.Tensors().ToDictionary(t => t.Name, t => t.Values);
            foreach (var (name, want) in expected.Tensors())
            {
                var values = got[name];
                if (!r.Held.Contains(name))
                {
                    Assert.All(values, v => Assert.Equal(0.0, v));   // a rank leaves the tensors of other stages alone
                    continue;
                }
                covered.Add(name);
                var worst = want.Zip(values, (a, b) => Math.Abs(a - b)).Max();
                Assert.True(worst <= 1e-12, $"{name}: max |Δ| {worst:G3}");
            }
        }
        // Every tensor is trained by some rank, and the gradients are not trivially zero.
        Assert.Equal(expected.Tensors().Select(t => t.Name).ToHashSet(), covered);
        Assert.Contains(expected.Embed, v => Math.Abs(v) > 1e-4);
        Assert.Contains(expected["model.layers.4.eh_proj.weight"], v => Math.Abs(v) > 1e-4);
        Assert.Contains(expected["model.layers.3.mlp.experts.0.up_proj.weight"], v => Math.Abs(v) > 1e-6);
    }

    [Fact]
    public void Without_its_own_embedding_copy_the_mtp_module_makes_both_ends_hold_the_embedding()
    {
        var results = Ranks.Run(3, c =>
        {
            var pipeline = new TransformerPipeline<double>(c, Model(mtpCopies: false), Length, PipelineScheduleKind.OneFOneB);
            return pipeline.Holds(TransformerStageLayout.EmbeddingName);
        });
        Assert.Equal([true, false, true], results);
    }

    [Fact]
    public void Layouts_that_cannot_work_are_refused_with_the_reason()
    {
        var p = Model(mtpCopies: false);
        var odd = Refusal(3, c => new TransformerPipeline<double>(c, p, Length, PipelineScheduleKind.DualPipe));
        Assert.IsType<PipelineScheduleException>(odd);
        Assert.Contains("even number of pipeline stages", odd.Message);
        var deep = Refusal(5, c => new TransformerPipeline<double>(c, p, Length, PipelineScheduleKind.OneFOneB));
        Assert.Contains("only 4 decoder layers", deep.Message);
        var small = Refusal(2, c => new TransformerPipeline<double>(c, p, Length, PipelineScheduleKind.DualPipe)
            .ForwardBackward(Batch().GetRange(0, 2), ModelParameters<double>.ZerosLike(p), Lambda));
        Assert.IsType<PipelineScheduleException>(small);
        Assert.Contains("at least 2 x ranks", small.Message);
    }

    /// <summary>The typed error a rank threw (the in-process group reports it as the failed rank's inner exception).</summary>
    private static ArgumentException Refusal(int ranks, Func<ICommunicator, object> body)
    {
        var failure = Assert.Throws<RankFailedException>(() => Ranks.Run(ranks, body));
        return Assert.IsAssignableFrom<ArgumentException>(failure.InnerException);
    }
}
