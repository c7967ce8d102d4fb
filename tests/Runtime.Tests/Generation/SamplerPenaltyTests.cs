using DeepSeek.Runtime.Generation;

namespace DeepSeek.Runtime.Tests.Generation;

public class SamplerPenaltyTests
{
    private static readonly float[] Logits = [2f, -1f, 0.5f, 3f, -2f, 1f];

    /// <summary>Prompt [0, 1, 0], generated [3, 3, 1, 5]: context {0, 1, 3, 5}; generated counts 3→2, 1→1, 5→1.</summary>
    private static TokenHistory History()
    {
        var h = new TokenHistory(Logits.Length);
        h.AddPrompt([0, 1, 0]);
        foreach (int id in new[] { 3, 3, 1, 5 })
            h.AddGenerated(id);
        return h;
    }

    private static float[] Penalized(SamplingOptions options)
    {
        float[] row = (float[])Logits.Clone();
        new Sampler(options with { Temperature = 0 }, row.Length).Sample(row, History());
        return row;
    }

    [Fact]
    public void Repetition_penalty_divides_positive_and_multiplies_negative_context_logits()
    {
        float[] expected = [2f / 1.5f, -1f * 1.5f, 0.5f, 3f / 1.5f, -2f, 1f / 1.5f];
        Assert.Equal(expected, Penalized(new SamplingOptions { RepetitionPenalty = 1.5 }));
    }

    [Fact]
    public void Repetition_penalty_below_one_rewards_repeats()
    {
        float[] expected = [2f / 0.5f, -1f * 0.5f, 0.5f, 3f / 0.5f, -2f, 1f / 0.5f];
        Assert.Equal(expected, Penalized(new SamplingOptions { RepetitionPenalty = 0.5 }));
    }

    [Fact]
    public void Presence_penalty_hits_generated_tokens_once_and_ignores_prompt_only_tokens()
    {
        float[] expected = [2f, -1f - 0.5f, 0.5f, 3f - 0.5f, -2f, 1f - 0.5f];
        Assert.Equal(expected, Penalized(new SamplingOptions { PresencePenalty = 0.5 }));
    }

    [Fact]
    public void Frequency_penalty_scales_with_the_generated_count()
    {
        float[] expected = [2f, -1f - (0.25f * 1), 0.5f, 3f - (0.25f * 2), -2f, 1f - (0.25f * 1)];
        Assert.Equal(expected, Penalized(new SamplingOptions { FrequencyPenalty = 0.25 }));
    }

    [Fact]
    public void All_penalties_apply_repetition_first_then_presence_and_frequency()
    {
        float[] expected =
        [
            2f / 1.2f,
            (-1f * 1.2f) - (0.5f + (0.25f * 1)),
            0.5f,
            (3f / 1.2f) - (0.5f + (0.25f * 2)),
            -2f,
            (1f / 1.2f) - (0.5f + (0.25f * 1)),
        ];
        Assert.Equal(expected, Penalized(new SamplingOptions { RepetitionPenalty = 1.2, PresencePenalty = 0.5, FrequencyPenalty = 0.25 }));
    }

    [Fact]
    public void No_penalties_leave_logits_untouched_and_no_history_means_no_penalty()
    {
        Assert.Equal(Logits, Penalized(new SamplingOptions()));
        float[] row = (float[])Logits.Clone();
        new Sampler(new SamplingOptions { RepetitionPenalty = 2, PresencePenalty = 1, Temperature = 0 }, row.Length).Sample(row);
        Assert.Equal(Logits, row);
    }

    [Fact]
    public void Penalties_change_the_greedy_choice()
    {
        var s = new Sampler(SamplingOptions.Greedy with { PresencePenalty = 1.5 }, Logits.Length);
        Assert.Equal(0, s.Sample((float[])Logits.Clone(), History())); // 3 − 1.5 = 1.5 < 2
        Assert.Equal(3, new Sampler(SamplingOptions.Greedy, Logits.Length).Sample((float[])Logits.Clone(), History()));
    }
}
