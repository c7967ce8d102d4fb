using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Tensors;

namespace DeepSeek.Runtime.Tests.Checkpoints;

/// <summary>The random-weight checkpoint shipped in samples/ must be exactly what the documented command regenerates.</summary>
public class ShippedCheckpointTests
{
    private static string Shipped()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "samples", "checkpoints", "tiny-deepseek-v3");
            if (Directory.Exists(candidate)) return candidate;
        }
        throw new DirectoryNotFoundException("samples/checkpoints/tiny-deepseek-v3 not found above the test binaries");
    }

    [Fact]
    public void Shipped_tiny_v3_is_valid_and_regenerates_bit_for_bit()
    {
        var shipped = Shipped();
        using (var ckpt = Checkpoint.Open(shipped))
        {
            Assert.Equal(3, ckpt.Files.Count);
            Assert.True(WeightReport.Check(ckpt).IsValid);
        }

        using var dir = new TempDir();
        var config = ModelConfig.Load(Path.Combine(shipped, "config.json"));
        SyntheticCheckpoint.Write(config, dir.Path, new SyntheticCheckpointOptions { Seed = 1, WeightDType = DType.F8_E4M3, Shards = 3 });
        var names = Directory.GetFiles(shipped).Select(Path.GetFileName).Order().ToList();
        Assert.Equal(names, Directory.GetFiles(dir.Path).Select(Path.GetFileName).Order().ToList());
        foreach (var name in names)
            Assert.True(File.ReadAllBytes(Path.Combine(shipped, name!)).AsSpan().SequenceEqual(File.ReadAllBytes(dir.File(name!))), $"{name} differs from a fresh synth");
    }
}
