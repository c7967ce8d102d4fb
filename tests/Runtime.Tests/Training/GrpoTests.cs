using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Generation;
using DeepSeek.Runtime.Training;
using DeepSeek.Runtime.Training.Grpo;
using DeepSeek.Runtime.Training.Sft;
using Xunit.Abstractions;

namespace DeepSeek.Runtime.Tests.Training;

public class GrpoMathTests
{
    [Fact]
    public void Advantages_are_group_normalised_and_zero_for_equal_rewards()
    {
        var a = GrpoMath.Advantages([1, 0, 0, 1]);                 // mean 0.5, population std 0.5
        Assert.Equal(new[] { 0.5 / 0.5001, -0.5 / 0.5001, -0.5 / 0.5001, 0.5 / 0.5001 }, a, new Tolerance(1e-12));
        Assert.Equal(new double[3], GrpoMath.Advantages([0.1, 0.1, 0.1]));
        Assert.Equal(new double[2], GrpoMath.Advantages([0, 0]));
    }

    [Fact]
    public void Token_terms_clip_on_the_active_side_and_add_the_k3_kl()
    {
        const double eps = 0.2, beta = 0.5;
        static double ln(double x) => Math.Log(x);
        // ρ = 1.5, A = +2: clipped (min picks 1.2·2), no policy gradient; KL with π_ref = π: 0.
        var t = GrpoMath.Token(ln(0.3), ln(0.2), ln(0.3), 2, eps, beta);
        Assert.True(t.Clipped);
        Assert.Equal(1.5, t.Ratio, 12);
        Assert.Equal(-2.4, t.Loss, 12);
        Assert.Equal(0, t.Weight, 12);
        // ρ = 1.5, A = −2: not clipped (min picks ρ·A = −3): weight A·ρ = −3.
        t = GrpoMath.Token(ln(0.3), ln(0.2), ln(0.3), -2, eps, beta);
        Assert.False(t.Clipped);
        Assert.Equal(3, t.Loss, 12);
        Assert.Equal(-3, t.Weight, 12);
        // ρ = 0.5, A = −1: clipped (min picks 0.8·−1), no policy gradient; ρ = 0.5, A = +1: unclipped, weight 0.5.
        t = GrpoMath.Token(ln(0.1), ln(0.2), ln(0.1), -1, eps, 0);
        Assert.True(t.Clipped);
        Assert.Equal(0.8, t.Loss, 12);
        Assert.Equal(0, t.Weight, 12);
        t = GrpoMath.Token(ln(0.1), ln(0.2), ln(0.1), 1, eps, 0);
        Assert.False(t.Clipped);
        Assert.Equal(-0.5, t.Loss, 12);
        Assert.Equal(0.5, t.Weight, 12);
        // KL: π = 0.2, π_ref = 0.4 → r = 2, KL = 2 − ln 2 − 1, ∂KL/∂log π = 1 − r = −1; A = 0.
        t = GrpoMath.Token(ln(0.2), ln(0.2), ln(0.4), 0, eps, beta);
        Assert.Equal(1 - Math.Log(2), t.Kl, 12);
        Assert.Equal(beta * (1 - Math.Log(2)), t.Loss, 12);
        Assert.Equal(beta * 1, t.Weight, 12);                         // −β·(1 − r)

        // Weight is −∂loss/∂log π: check by finite differences away from the clip boundary.
        foreach (var (lp, old, rf, adv) in new[] { (-1.3, -1.2, -0.9, 0.7), (-2.0, -2.1, -2.5, -1.1), (-0.4, -1.0, -0.6, 1.5) })
        {
            var h = 1e-6;
            var numeric = -(GrpoMath.Token(lp + h, old, rf, adv, eps, beta).Loss - GrpoMath.Token(lp - h, old, rf, adv, eps, beta).Loss) / (2 * h);
            Assert.Equal(numeric, GrpoMath.Token(lp, old, rf, adv, eps, beta).Weight, 6);
        }
    }

    [Fact]
    public void Rewards_score_format_numbers_tokens_and_length()
    {
        RewardContext C(string? text, params int[] ids) => new(0, [5], ids, text, FinishReason.Length);
        var number = Rewards.ExactNumber(_ => "42");
        Assert.Equal(1, number(C("<think>6·7 is 41? no</think> The answer is 42.")));
        Assert.Equal(0, number(C("<think>42</think> 41")));
        Assert.Equal(0, number(C(null)));
        var format = Rewards.ThinkFormat();
        Assert.Equal(1, format(C("<think>\nhmm\n</think>\n42")));
        Assert.Equal(0, format(C("<think>hmm</think>")));
        Assert.Equal(0, format(C("42")));
        Assert.Equal(1, format(C("hmm\n</think>\n\n42")));            // after R1's generation prompt, which opened <think>
        Assert.Equal(0, format(C("<think>a</think><think>b</think> 42")));
        Assert.Equal(0, format(C("hmm</think> 42</think>")));
        Assert.Equal(0.5, Rewards.TokenFraction(id => id == 7)(C(null, 7, 3, 7, 4)));
        Assert.Equal(1, Rewards.FirstToken(7)(C(null, 7, 3)));
        Assert.Equal(-0.25, Rewards.LengthPenalty(8)(C(null, 1, 2)));
        Assert.Equal(1, Rewards.ExactTokens(p => [p[0] + 1])(new RewardContext(0, [5], [6, 1], null, FinishReason.Stop)));
    }

    private sealed class Tolerance(double eps) : IEqualityComparer<double>
    {
        public bool Equals(double x, double y) => Math.Abs(x - y) <= eps;
        public int GetHashCode(double obj) => 0;
    }
}

public class GrpoTrainerTests(ITestOutputHelper output)
{
    private static ModelParameters<float> TinyQwen2()
    {
        using var checkpoint = Checkpoint.Open(RepoPaths.TestData("models", "tiny-qwen2"));
        return ModelParameters<float>.Load(WeightMap.Bind(checkpoint));
    }

    [Fact]
    public void Grpo_raises_the_mean_reward_on_a_verifiable_token_task()
    {
        // Reward: the fraction of completion tokens in [128, 160) — 1/8 of the vocabulary, so a near-uniform start scores ~0.125.
        var p = TinyQwen2();
        var options = new GrpoOptions
        {
            GroupSize = 8, PromptsPerStep = 4, MaxCompletionTokens = 6, Steps = 12, Epochs = 2, LearningRate = 1e-2,
            KlBeta = 0.001, StopAtEos = false, Seed = 7, Threads = 2,
        };
        int[][] prompts = [[0, 17, 33], [0, 90, 4, 12], [0, 200], [0, 55, 61], [0, 3, 140, 9], [0, 77]];
        using var trainer = new GrpoTrainer(p, options, [Rewards.TokenFraction(id => id is >= 128 and < 160)]);
        var history = trainer.Train(prompts);

        foreach (var h in history)
            output.WriteLine($"step {h.Step}: reward {h.MeanReward:F3} ± {h.RewardStd:F3}, KL {h.Kl:E2}, clip {h.ClipFraction:F3}, loss {h.Loss:F4}, |g| {h.GradNorm:F3}");
        Assert.Equal(12, history.Count);
        Assert.All(history, h => Assert.Equal(6, h.MeanCompletionLength));
        Assert.All(history, h => Assert.True(double.IsFinite(h.Loss) && h.Kl >= 0 && h.ClipFraction is >= 0 and <= 1));
        Assert.Equal(0, history[0].Kl, 6);                           // the first roll-outs come from the reference weights
        var first = history[0].MeanReward;
        var last = history.TakeLast(3).Average(h => h.MeanReward);
        Assert.True(last >= 2 * first && last > first + 0.2, $"reward {first:F3} → {last:F3}: " + string.Join(", ", history.Select(h => h.MeanReward.ToString("F3"))));
        Assert.True(history[^1].Kl > 0);

        // Seeded: the same run again gives the same history.
        using var again = new GrpoTrainer(TinyQwen2(), options, [Rewards.TokenFraction(id => id is >= 128 and < 160)]);
        Assert.Equal(history.Select(h => h.MeanReward), again.Train(prompts).Select(h => h.MeanReward));
    }

    [Fact]
    public void Options_out_of_range_are_rejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new GrpoOptions { GroupSize = 1 }.Validate());
        Assert.Throws<ArgumentOutOfRangeException>(() => new GrpoOptions { ClipEpsilon = 0 }.Validate());
        Assert.Throws<ArgumentOutOfRangeException>(() => new GrpoOptions { Temperature = 0 }.Validate());
        Assert.Throws<ArgumentOutOfRangeException>(() => new GrpoOptions { KlBeta = -1 }.Validate());
        new GrpoOptions { Optimizer = OptimizerKind.Sgd }.Validate();
    }
}
