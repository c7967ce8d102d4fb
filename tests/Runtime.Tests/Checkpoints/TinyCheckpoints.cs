using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Tensors;

namespace DeepSeek.Runtime.Tests.Checkpoints;

/// <summary>Generates the tiny DeepSeek-V3 checkpoints the tests open (BF16 single file, FP8 in 3 shards).</summary>
internal static class TinyCheckpoints
{
    public static ModelConfig TinyV3 => ModelConfig.Parse(ConfigFixtures.TinyV3, "TinyV3");

    public static string WriteBf16(TempDir dir, string name = "bf16") =>
        Write(dir, name, new SyntheticCheckpointOptions { Seed = 7 });

    /// <summary>FP8 with partial 128-blocks (hidden 160, widths 96/288/…) sharded into 3 files.</summary>
    public static string WriteFp8Sharded(TempDir dir, string name = "fp8") =>
        Write(dir, name, new SyntheticCheckpointOptions { Seed = 7, WeightDType = DType.F8_E4M3, Shards = 3 });

    public static string Write(TempDir dir, string name, SyntheticCheckpointOptions options, ModelConfig? config = null)
    {
        var path = dir.File(name);
        SyntheticCheckpoint.Write(config ?? TinyV3, path, options);
        return path;
    }
}
