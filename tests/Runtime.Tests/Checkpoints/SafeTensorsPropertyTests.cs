using System.Text;
using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Tensors;
using FsCheck;
using FsCheck.Fluent;

namespace DeepSeek.Runtime.Tests.Checkpoints;

/// <summary>
/// Damaged files — truncated, bit-flipped, headers rewritten — must end in <see cref="CheckpointFormatException"/>
/// or open as a consistent file; never an access violation, another exception type, a hang or out-of-range views.
/// </summary>
public class SafeTensorsPropertyTests
{
    private static readonly byte[] Valid = BuildValid();

    private static byte[] BuildValid()
    {
        using var dir = new TempDir();
        var w = new SafeTensorsWriter().SetMetadata("format", "pt");
        w.AddF32("model.norm.weight", Shape.Of(8), Enumerable.Range(0, 8).Select(i => i * 0.5f).ToArray());
        w.AddBF16("model.layers.0.mlp.up_proj.weight", Shape.Of(4, 8), Enumerable.Range(0, 32).Select(i => (float)i).ToArray());
        w.AddFp8Block("model.layers.0.self_attn.o_proj.weight", 5, 3, Enumerable.Range(0, 15).Select(i => i - 7f).ToArray(), blockSize: 2);
        w.Add("ids", DType.I64, Shape.Of(2), new byte[16]);
        w.WriteFile(dir.File("v.safetensors"));
        return File.ReadAllBytes(dir.File("v.safetensors"));
    }

    private static readonly string ValidHeader = Encoding.UTF8.GetString(Valid, 8, (int)BitConverter.ToInt64(Valid, 0));

    /// <summary>Opens the bytes; if they parse, every view must lie within the file and read without faulting.</summary>
    private static bool OpensCleanlyOrFailsTyped(byte[] bytes)
    {
        var path = Path.Combine(Path.GetTempPath(), $"dsrt-prop-{Environment.CurrentManagedThreadId}-{Guid.NewGuid():N}.safetensors");
        File.WriteAllBytes(path, bytes);
        try
        {
            using var file = SafeTensorsFile.Open(path);
            long covered = 0;
            foreach (var t in file.Tensors)
            {
                if (t.FileOffset < 8 || t.FileOffset + t.ByteLength > file.Length) return false;
                var span = file.GetBytes(t.Name);
                var sum = 0;
                foreach (var b in span) sum += b;
                covered += t.ByteLength;
                _ = sum;
            }
            // Opened files are consistent: the tensors cover the data section exactly (the spec's rule).
            var dataStart = 8 + BitConverter.ToInt64(bytes, 0);
            return covered == file.Length - dataStart;
        }
        catch (CheckpointFormatException)
        {
            return true;
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static readonly Config Cases = Config.QuickThrowOnFailure.WithMaxTest(1500);

    /// <summary>Guards the properties below: were the seed file itself rejected, every mutation would pass vacuously.</summary>
    [Fact]
    public void The_unmutated_file_opens_with_all_its_tensors()
    {
        var path = Path.Combine(Path.GetTempPath(), $"dsrt-prop-seed-{Guid.NewGuid():N}.safetensors");
        File.WriteAllBytes(path, Valid);
        try
        {
            using var file = SafeTensorsFile.Open(path);
            Assert.Equal(5, file.Tensors.Count);
            Assert.Equal("pt", file.Metadata["format"]);
            Assert.True(OpensCleanlyOrFailsTyped(Valid));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Truncated_files_fail_typed() =>
        Prop.ForAll(Gen.Choose(0, Valid.Length - 1).ToArbitrary(), n =>
            OpensCleanlyOrFailsTyped(Valid[..n])).Check(Config.QuickThrowOnFailure.WithMaxTest(Valid.Length));

    [Fact]
    public void Bit_flips_fail_typed_or_stay_consistent()
    {
        var flips = Gen.Choose(0, Valid.Length * 8 - 1).ArrayOf().Where(a => a.Length is > 0 and <= 4);
        Prop.ForAll(flips.ToArbitrary(), bits =>
        {
            var bytes = (byte[])Valid.Clone();
            foreach (var b in bits) bytes[b / 8] ^= (byte)(1 << (b % 8));
            return OpensCleanlyOrFailsTyped(bytes);
        }).Check(Cases);
    }

    [Fact]
    public void Header_bit_flips_fail_typed_or_stay_consistent()
    {
        var headerBits = (8 + ValidHeader.Length) * 8;
        Prop.ForAll(Gen.Choose(0, headerBits - 1).ToArbitrary(), bit =>
        {
            var bytes = (byte[])Valid.Clone();
            bytes[bit / 8] ^= (byte)(1 << (bit % 8));
            return OpensCleanlyOrFailsTyped(bytes);
        }).Check(Cases);
    }

    [Fact]
    public void Rewritten_headers_fail_typed_or_stay_consistent()
    {
        // Lie in the header: replace one number or token with another, keeping the declared length honest.
        var numbers = System.Text.RegularExpressions.Regex.Matches(ValidHeader, "[0-9]+|\"[A-Z0-9_]+\"").Cast<System.Text.RegularExpressions.Match>().ToArray();
        var replacements = Gen.Elements("0", "1", "7", "-1", "99999999999", "1e309", "\"F32\"", "\"BF16\"", "\"I8\"", "\"X\"", "null", "[]", "{}", "[0,0]", "\"\"");
        var gen = Gen.Zip(Gen.Choose(0, numbers.Length - 1), replacements);
        Prop.ForAll(gen.ToArbitrary(), pick =>
        {
            var m = numbers[pick.Item1];
            var header = ValidHeader[..m.Index] + pick.Item2 + ValidHeader[(m.Index + m.Length)..];
            var data = Valid.AsSpan(8 + ValidHeader.Length).ToArray();
            return OpensCleanlyOrFailsTyped(SafeTensorsBytes.Build(header, data));
        }).Check(Cases);
    }

    [Fact]
    public void Random_bytes_fail_typed()
    {
        Prop.ForAll(ArbMap.Default.ArbFor<byte[]>(), bytes => OpensCleanlyOrFailsTyped(bytes)).Check(Config.QuickThrowOnFailure.WithMaxTest(500));
    }
}
