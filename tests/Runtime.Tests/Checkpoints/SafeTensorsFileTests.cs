using System.Buffers.Binary;
using System.Text;
using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Tensors;

namespace DeepSeek.Runtime.Tests.Checkpoints;

public class SafeTensorsFileTests
{
    [Fact]
    public void Reads_a_file_built_from_the_spec()
    {
        using var dir = new TempDir();
        var path = dir.File("t.safetensors");
        File.WriteAllBytes(path, SafeTensorsBytes.Build(SafeTensorsBytes.TwoTensors, SafeTensorsBytes.TwoTensorData()));

        using var file = SafeTensorsFile.Open(path);
        Assert.Equal(["a", "b"], file.Tensors.Select(t => t.Name));
        var a = file.GetView<float>("a");
        Assert.Equal(Shape.Of(2, 2), a.Shape);
        Assert.Equal([0.5f, 1.5f, 2.5f, 3.5f], a.Span.ToArray());
        Assert.Equal(3.5f, a[1, 1]);
        Assert.Equal(2.5f, a.Transpose(0, 1)[0, 1]);
        var b = file.GetView<ushort>("b");
        Assert.Equal([1f, -2f, 3f], b.Span.ToArray().Select(BFloat16Codec.ToSingle));
        Assert.Same(file, a.Owner);
        Assert.Equal(8 + Encoding.UTF8.GetByteCount(SafeTensorsBytes.TwoTensors) + 16, file.GetInfo("b").FileOffset);
    }

    [Fact]
    public void Views_are_zero_copy_over_the_mapping()
    {
        using var dir = new TempDir();
        var path = dir.File("t.safetensors");
        File.WriteAllBytes(path, SafeTensorsBytes.Build(SafeTensorsBytes.TwoTensors, SafeTensorsBytes.TwoTensorData()));
        using var file = SafeTensorsFile.Open(path);
        unsafe
        {
            var a = file.GetView<float>("a");
            var b = file.GetView<ushort>("b");
            // Consecutive tensors sit exactly 16 bytes apart in the mapping: views point into it, not at copies.
            Assert.Equal(16, (byte*)b.Pointer - (byte*)a.Pointer);
            fixed (byte* bytes = file.GetBytes("a")) Assert.Equal((nint)a.Pointer, (nint)bytes);
        }
    }

    [Fact]
    public void Writer_output_is_byte_identical_to_the_spec_layout()
    {
        using var dir = new TempDir();
        var data = SafeTensorsBytes.TwoTensorData();
        var w = new SafeTensorsWriter()
            .Add("a", DType.F32, Shape.Of(2, 2), data.AsMemory(0, 16))
            .Add("b", DType.BF16, Shape.Of(3), data.AsMemory(16, 6));
        w.WriteFile(dir.File("w.safetensors"));

        // Spec: u64 LE N, N bytes of JSON padded with spaces to a multiple of 8, then the data.
        var header = SafeTensorsBytes.TwoTensors;
        header += new string(' ', (8 - header.Length % 8) % 8);
        var expected = SafeTensorsBytes.Build(header, data);
        Assert.Equal(expected, File.ReadAllBytes(dir.File("w.safetensors")));
    }

    [Fact]
    public void Writer_round_trips_metadata_and_every_dtype()
    {
        using var dir = new TempDir();
        var f32 = new[] { 1f, -0f, float.MaxValue, float.Epsilon, 3.25f, -7f };
        var w = new SafeTensorsWriter().SetMetadata("format", "pt").SetMetadata("note", "ünïcode ✓");
        w.AddF32("f32", Shape.Of(2, 3), f32);
        w.AddBF16("bf16", Shape.Of(6), f32);
        w.AddFp8Block("fp8", 3, 2, [0.5f, -1f, 2f, 448f, -0.25f, 0f], blockSize: 2);
        w.Add("i64", DType.I64, Shape.Of(1), BitConverter.GetBytes(-5L));
        w.Add("empty", DType.F32, Shape.Of(0, 4), ReadOnlyMemory<byte>.Empty);
        w.Add("scalar", DType.U8, new Shape(), new byte[] { 7 });
        w.WriteFile(dir.File("all.safetensors"));

        using var file = SafeTensorsFile.Open(dir.File("all.safetensors"));
        Assert.Equal("pt", file.Metadata["format"]);
        Assert.Equal("ünïcode ✓", file.Metadata["note"]);
        Assert.Equal(f32, file.GetView<float>("f32").Span.ToArray());
        Assert.Equal(f32.Select(BFloat16Codec.FromSingle), file.GetView<ushort>("bf16").Span.ToArray());
        Assert.Equal(DType.F8_E4M3, file.GetInfo("fp8").DType);
        Assert.Equal(Shape.Of(2, 1), file.GetInfo("fp8_scale_inv").Shape);
        Assert.Equal(-5L, file.GetView<long>("i64")[0]);
        Assert.Equal(0, file.GetInfo("empty").ByteLength);
        Assert.Equal(7, file.GetView<byte>("scalar")[ReadOnlySpan<long>.Empty]);
        Assert.Equal(0, (8 + BinaryPrimitives.ReadInt64LittleEndian(File.ReadAllBytes(dir.File("all.safetensors")))) % 8);
    }

    [Fact]
    public void Viewing_with_the_wrong_element_size_or_after_dispose_throws()
    {
        using var dir = new TempDir();
        var path = dir.File("t.safetensors");
        File.WriteAllBytes(path, SafeTensorsBytes.Build(SafeTensorsBytes.TwoTensors, SafeTensorsBytes.TwoTensorData()));
        var file = SafeTensorsFile.Open(path);
        Assert.Throws<InvalidOperationException>(() => file.GetView<ushort>("a"));
        Assert.Throws<KeyNotFoundException>(() => file.GetInfo("nope"));
        file.Dispose();
        Assert.Throws<ObjectDisposedException>(() => file.GetView<float>("a"));
    }

    [Fact]
    public void Failed_write_leaves_the_previous_file_intact()
    {
        using var dir = new TempDir();
        var path = dir.File("keep.safetensors");
        new SafeTensorsWriter().AddF32("x", Shape.Of(1), [1f]).WriteFile(path);
        var before = File.ReadAllBytes(path);

        using var cts = new CancellationTokenSource();
        cts.Cancel();
        var w = new SafeTensorsWriter().AddF32("y", Shape.Of(2), [2f, 3f]);
        Assert.Throws<OperationCanceledException>(() => w.WriteFile(path, cts.Token));

        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Single(Directory.GetFiles(dir.Path));
    }

    [Fact]
    public void Writer_rejects_duplicates_and_size_mismatches()
    {
        var w = new SafeTensorsWriter().AddF32("x", Shape.Of(2), [1f, 2f]);
        Assert.Throws<ArgumentException>(() => w.AddF32("x", Shape.Of(1), [1f]));
        Assert.Throws<ArgumentException>(() => w.Add("y", DType.F32, Shape.Of(3), new byte[8]));
        Assert.Throws<ArgumentException>(() => w.Add("__metadata__", DType.U8, Shape.Of(1), new byte[1]));
        Assert.Equal(1, w.Count);
    }
}
