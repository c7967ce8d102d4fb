using DeepSeek.Runtime.Generation;

namespace DeepSeek.Runtime.Tests.Generation;

public class StopConditionTests
{
    [Fact]
    public void Stop_tokens_come_from_options_and_eos()
    {
        var stop = new StopCondition(new SamplingOptions { StopTokenIds = [7, 3] }, eosTokenIds: [1, 7]);
        Assert.Equal([1, 3, 7], stop.StopTokenIds);
        Assert.Equal(FinishReason.Stop, stop.Check(1, 1));
        Assert.Equal(FinishReason.Stop, stop.Check(3, 1));
        Assert.Null(stop.Check(2, 1));
        Assert.False(stop.IsStopToken(0));
    }

    [Fact]
    public void MaxTokens_gives_Length_and_a_stop_token_wins_over_it()
    {
        var stop = new StopCondition(new SamplingOptions { MaxTokens = 3 }, eosTokenIds: [0]);
        Assert.Null(stop.Check(5, 1));
        Assert.Null(stop.Check(5, 2));
        Assert.Equal(FinishReason.Length, stop.Check(5, 3));
        Assert.Equal(FinishReason.Stop, stop.Check(0, 3));
    }

    [Fact]
    public void No_limit_never_gives_Length()
    {
        var stop = new StopCondition(new SamplingOptions());
        Assert.Null(stop.Check(5, int.MaxValue));
    }

    [Fact]
    public void Negative_eos_id_is_rejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new StopCondition(new SamplingOptions(), [-1]));
    }
}
