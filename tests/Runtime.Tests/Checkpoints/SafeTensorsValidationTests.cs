using DeepSeek.Runtime.Checkpoints;

namespace DeepSeek.Runtime.Tests.Checkpoints;

public class SafeTensorsValidationTests
{
    private static CheckpointFormatException OpenFails(byte[] bytes)
    {
        using var dir = new TempDir();
        var path = dir.File("bad.safetensors");
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<CheckpointFormatException>(() => SafeTensorsFile.Open(path));
        Assert.Equal(path, e.File);
        Assert.Contains("bad.safetensors", e.Message);
        return e;
    }

    private static byte[] Header(string json, int dataBytes = 22, ulong? declared = null) =>
        SafeTensorsBytes.Build(json, SafeTensorsBytes.TwoTensorData().AsSpan(0, Math.Min(dataBytes, 22)).ToArray().Concat(new byte[Math.Max(0, dataBytes - 22)]).ToArray(), declared);

    [Theory]
    [InlineData(0)]
    [InlineData(7)]
    public void File_shorter_than_the_length_prefix(int length)
    {
        var e = OpenFails(new byte[length]);
        Assert.Equal(0, e.Offset);
        Assert.Contains("too short", e.Message);
    }

    [Fact]
    public void Header_length_beyond_the_file() =>
        Assert.Contains("past the end", OpenFails(Header(SafeTensorsBytes.TwoTensors, declared: 10_000)).Message);

    [Fact]
    public void Header_length_over_the_sane_limit() =>
        Assert.Contains("limit", OpenFails(Header(SafeTensorsBytes.TwoTensors, declared: ulong.MaxValue)).Message);

    [Theory]
    [InlineData("{\"a\":")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",}}")]
    [InlineData("[1,2,3]")]
    [InlineData("{} trailing")]
    public void Invalid_json(string json) => OpenFails(Header(json, dataBytes: 0));

    [Fact]
    public void Invalid_utf8_in_header()
    {
        var bytes = Header("""{"aé":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}}""", dataBytes: 0);
        var i = Array.IndexOf(bytes, (byte)0xC3);
        bytes[i] = 0xFF;
        OpenFails(bytes);
    }

    [Fact]
    public void Unknown_dtype_names_the_tensor()
    {
        var e = OpenFails(Header(SafeTensorsBytes.TwoTensors.Replace("\"BF16\"", "\"F8_E5M2\"")));
        Assert.Equal("b", e.Tensor);
        Assert.Contains("F8_E5M2", e.Message);
    }

    [Fact]
    public void Shape_times_dtype_size_must_equal_the_byte_range()
    {
        var e = OpenFails(Header(SafeTensorsBytes.TwoTensors.Replace("[2,2]", "[2,3]")));
        Assert.Equal("a", e.Tensor);
        Assert.Contains("needs 24 bytes", e.Message);
        Assert.NotNull(e.Offset);
    }

    [Fact]
    public void Offsets_outside_the_data_section()
    {
        var e = OpenFails(Header(SafeTensorsBytes.TwoTensors, dataBytes: 20));
        Assert.Equal("b", e.Tensor);
        Assert.Contains("truncated", e.Message);
    }

    [Fact]
    public void Overlapping_tensors()
    {
        var json = """{"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},"b":{"dtype":"F32","shape":[2],"data_offsets":[12,20]},"c":{"dtype":"U8","shape":[2],"data_offsets":[20,22]}}""";
        var e = OpenFails(Header(json));
        Assert.Equal("b", e.Tensor);
        Assert.Contains("overlap", e.Message);
    }

    [Fact]
    public void Holes_between_tensors()
    {
        var json = """{"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},"b":{"dtype":"U8","shape":[4],"data_offsets":[18,22]}}""";
        Assert.Contains("indexed by no tensor", OpenFails(Header(json)).Message);
    }

    [Fact]
    public void Trailing_bytes_after_the_last_tensor() =>
        Assert.Contains("after the last tensor", OpenFails(Header(SafeTensorsBytes.TwoTensors, dataBytes: 30)).Message);

    [Fact]
    public void Duplicate_tensor_names()
    {
        var json = """{"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},"a":{"dtype":"BF16","shape":[3],"data_offsets":[16,22]}}""";
        var e = OpenFails(Header(json));
        Assert.Equal("a", e.Tensor);
        Assert.Contains("twice", e.Message);
    }

    [Theory]
    [InlineData("[2,-2]", "shape dimension")]
    [InlineData("[2,2.5]", "shape dimension")]
    [InlineData("\"2x2\"", "shape")]
    [InlineData("[9223372036854775807,9223372036854775807]", "overflow")]
    public void Bad_shapes(string shape, string expected) =>
        Assert.Contains(expected, OpenFails(Header(SafeTensorsBytes.TwoTensors.Replace("[2,2]", shape))).Message);

    [Theory]
    [InlineData("[16,0]")]
    [InlineData("[0]")]
    [InlineData("[-1,16]")]
    [InlineData("[0,1e3]")]
    public void Bad_offsets(string offsets) => OpenFails(Header(SafeTensorsBytes.TwoTensors.Replace("[0,16]", offsets)));

    [Theory]
    [InlineData("""{"__metadata__":{"k":1}}""")]
    [InlineData("""{"__metadata__":[]}""")]
    [InlineData("""{"x":{"shape":[0],"data_offsets":[0,0]}}""")]
    [InlineData("""{"x":{"dtype":"U8","data_offsets":[0,0]}}""")]
    [InlineData("""{"x":{"dtype":"U8","shape":[0]}}""")]
    [InlineData("""{"x":5}""")]
    [InlineData("""{"\ud800":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}}""")]
    public void Malformed_entries(string json) => OpenFails(Header(json, dataBytes: 0));

    [Fact]
    public void Header_padded_with_spaces_is_accepted()
    {
        using var dir = new TempDir();
        var path = dir.File("pad.safetensors");
        File.WriteAllBytes(path, Header(SafeTensorsBytes.TwoTensors + "       "));
        using var file = SafeTensorsFile.Open(path);
        Assert.Equal(2, file.Tensors.Count);
    }

    [Fact]
    public void Missing_file_is_a_typed_error()
    {
        using var dir = new TempDir();
        var e = Assert.Throws<CheckpointFormatException>(() => SafeTensorsFile.Open(dir.File("nope.safetensors")));
        Assert.Contains("not found", e.Message);
    }
}
