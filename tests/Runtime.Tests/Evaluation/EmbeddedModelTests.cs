using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Compute.Cpu;
using DeepSeek.Runtime.Evaluation;
using DeepSeek.Runtime.Hosting;
using DeepSeek.Runtime.Model;
using DeepSeek.Runtime.Tokenization;
using Xunit;

namespace DeepSeek.Runtime.Tests.Evaluation;

/// <summary>The shipped model: present next to the application, V3 in miniature, a real tokenizer, and it does its task.</summary>
public sealed class EmbeddedModelTests
{
    [Fact]
    public void ShipsNextToTheApplicationAsAValidCheckpoint()
    {
        var dir = EmbeddedModel.GetPath();
        Assert.Equal(EmbeddedModel.Name, Path.GetFileName(dir));
        using var checkpoint = Checkpoint.Open(dir);
        var summary = CheckpointSummary.Create(checkpoint);
        Assert.True(summary.Report.IsValid, string.Join("; ", summary.Report.Problems));
        var c = checkpoint.Config;
        // Every V3 mechanism, in miniature.
        Assert.Equal(ModelArchitecture.DeepSeekV3, c.Architecture);
        Assert.NotNull(c.QLoraRank);
        Assert.True(c.IsMla && c.IsMoe);
        Assert.Equal(1, c.FirstKDenseReplace);
        Assert.True(c.NSharedExperts >= 1 && c.NGroup > 1 && c.TopKGroup < c.NGroup);
        Assert.Equal(TopKMethod.NoAuxTc, c.TopKMethod);
        Assert.Equal(ScoringFunction.Sigmoid, c.ScoringFunc);
        Assert.Equal(RopeScalingType.Yarn, c.RopeScaling!.Type);
        Assert.Equal(1, c.NumNextNPredictLayers);
        Assert.InRange(summary.Parameters.Total, 100_000, 5_000_000);
    }

    [Fact]
    public void TokenizerCarriesDeepSeeksSpecialTokensAndR1sTemplate()
    {
        var dir = EmbeddedModel.GetPath();
        var tokenizer = BpeTokenizer.FromDirectory(dir);
        var chat = ChatFormats.FromTokenizerConfig(dir);
        Assert.Equal(ChatFormats.DeepSeekR1, chat.Family);
        Assert.Equal(0, tokenizer.BosTokenId);
        foreach (var special in new[] { "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", "<｜User｜>", "<｜Assistant｜>", "<｜tool▁calls▁begin｜>", "<｜tool▁sep｜>" })
            Assert.Single(tokenizer.Encode(special));
        // Digits are single tokens, whatever their run: column arithmetic reads one digit per position.
        var ids = tokenizer.Encode("4821+937=5758");
        Assert.Equal(13, ids.Count);
        var text = new ArithmeticProblem(4821, ArithmeticOperation.Add, 937).Completion;
        Assert.Equal(text, tokenizer.Decode(tokenizer.Encode(text)));
        var prompt = chat.Render([ChatMessage.User("What is 4821 + 937?")]);
        Assert.Equal("<｜begin▁of▁sentence｜><｜User｜>What is 4821 + 937?<｜Assistant｜><think>\n", prompt);
    }

    [Fact]
    public void AnswersHeldOutProblemsThroughTheChatPipeline()
    {
        var dir = EmbeddedModel.GetPath();
        using var checkpoint = Checkpoint.Open(dir);
        using var backend = new CpuBackend();
        var evaluator = ArithmeticEvaluator.Open(backend, WeightMap.Bind(checkpoint), dir, maxPositions: 512);
        // A fixed held-out sample (never trained on); the full 1,000-problem figure is in the README (deepseek eval).
        var result = evaluator.Evaluate(ArithmeticTask.Sample(48, seed: 7, ArithmeticSplit.HeldOut, maxDigits: 3));
        Assert.True(result.FormatAccuracy >= 0.95, $"format accuracy {result.FormatAccuracy:P1}");
        Assert.True(result.Accuracy >= MinimumAccuracy, $"accuracy {result.Accuracy:P1}");
    }

    // 47 of 48 (97.9 %) when the model was shipped (`deepseek eval --n 48 --seed 7 --max-digits 3`). Greedy decoding is
    // deterministic on one machine; the margin of two problems covers near-tie logits that another SIMD width may round
    // the other way. A larger drop means the engine, tokenizer, chat template or weights changed what the model computes.
    private const double MinimumAccuracy = 45.0 / 48;
}
