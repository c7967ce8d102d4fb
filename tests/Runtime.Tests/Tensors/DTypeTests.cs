using DeepSeek.Runtime.Tensors;

namespace DeepSeek.Runtime.Tests.Tensors;

public class DTypeTests
{
    [Theory]
    [InlineData("F32", 4)]
    [InlineData("BF16", 2)]
    [InlineData("F16", 2)]
    [InlineData("F8_E4M3", 1)]
    [InlineData("I64", 8)]
    [InlineData("BOOL", 1)]
    public void Header_names_round_trip_with_sizes(string name, int size)
    {
        Assert.True(DTypes.TryParse(name, out var dtype));
        Assert.Equal(size, dtype.SizeOf());
        Assert.Equal(name, dtype.HeaderName());
    }

    [Theory]
    [InlineData("f32")]
    [InlineData("F8_E5M2")]
    [InlineData("")]
    public void Unknown_names_are_rejected(string name) => Assert.False(DTypes.TryParse(name, out _));
}
