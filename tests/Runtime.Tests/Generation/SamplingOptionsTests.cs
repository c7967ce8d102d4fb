using DeepSeek.Runtime.Generation;

namespace DeepSeek.Runtime.Tests.Generation;

public class SamplingOptionsTests
{
    [Fact]
    public void Defaults_are_plain_sampling_and_valid()
    {
        var o = new SamplingOptions();
        o.Validate();
        Assert.Equal(1.0, o.Temperature);
        Assert.Equal(0, o.TopK);
        Assert.Equal(1.0, o.TopP);
        Assert.Equal(0.0, o.MinP);
        Assert.Equal(1.0, o.RepetitionPenalty);
        Assert.False(o.IsGreedy);
        Assert.Empty(o.StopTokenIds);
        Assert.Empty(o.StopSequences);
    }

    [Fact]
    public void Greedy_is_temperature_zero()
    {
        Assert.True(SamplingOptions.Greedy.IsGreedy);
        Assert.Equal(0.0, SamplingOptions.Greedy.Temperature);
        SamplingOptions.Greedy.Validate();
    }

    public static TheoryData<SamplingOptions, string> BadOptions => new()
    {
        { new() { Temperature = -0.1 }, "Temperature" },
        { new() { Temperature = double.NaN }, "Temperature" },
        { new() { Temperature = double.PositiveInfinity }, "Temperature" },
        { new() { TopK = -1 }, "TopK" },
        { new() { TopP = 0 }, "TopP" },
        { new() { TopP = 1.0001 }, "TopP" },
        { new() { TopP = double.NaN }, "TopP" },
        { new() { MinP = -0.01 }, "MinP" },
        { new() { MinP = 1.5 }, "MinP" },
        { new() { MinP = double.NaN }, "MinP" },
        { new() { RepetitionPenalty = 0 }, "RepetitionPenalty" },
        { new() { RepetitionPenalty = -1 }, "RepetitionPenalty" },
        { new() { RepetitionPenalty = double.NaN }, "RepetitionPenalty" },
        { new() { PresencePenalty = double.NaN }, "PresencePenalty" },
        { new() { FrequencyPenalty = double.NegativeInfinity }, "FrequencyPenalty" },
        { new() { MaxTokens = 0 }, "MaxTokens" },
        { new() { StopTokenIds = [1, -2] }, "StopTokenIds" },
        { new() { StopSequences = ["ok", ""] }, "StopSequences" },
    };

    [Theory]
    [MemberData(nameof(BadOptions))]
    public void Validate_names_the_bad_option(SamplingOptions options, string name)
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(options.Validate);
        Assert.Equal(name, ex.ParamName);
        Assert.Contains(name, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Boundary_values_are_accepted()
    {
        new SamplingOptions { TopP = 1, MinP = 1, Temperature = 0, RepetitionPenalty = 0.5, PresencePenalty = -2, MaxTokens = 1 }.Validate();
        new SamplingOptions { TopP = 1e-9, MinP = 0 }.Validate();
    }

    [Fact]
    public void Sampler_validates_its_options()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new Sampler(new SamplingOptions { TopP = 2 }, 10));
    }
}
