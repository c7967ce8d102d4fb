using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Distributed;

namespace DeepSeek.Cli.Tests;

public sealed class CliErrorsTests
{
    [Fact]
    public void A_group_that_failed_on_bad_input_or_its_transport_is_one_error_line()
    {
        var badInput = new RankFailedException(1, "rank 1 of 2 failed: model.safetensors: header truncated",
            new CheckpointFormatException("model.safetensors: header truncated"));
        var timeout = new CommunicatorTimeoutException("all-reduce waited 30 s for rank 1");
        foreach (var e in new Exception[] { badInput, timeout })
        {
            var error = new StringWriter();
            Assert.True(CliErrors.TryReport(error, verbose: false, e));
            Assert.Equal($"error: {e.Message}{Environment.NewLine}", error.ToString());
        }
    }

    [Fact]
    public void A_rank_that_failed_on_a_bug_surfaces_whole()
    {
        var bug = new RankFailedException(0, "rank 0 of 2 failed: Object reference not set", new NullReferenceException());
        var error = new StringWriter();
        Assert.False(CliErrors.TryReport(error, verbose: false, bug));
        Assert.Equal("", error.ToString());
    }
}
