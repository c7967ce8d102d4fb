using DeepSeek.Runtime.Tensors;

namespace DeepSeek.Runtime.Checkpoints;

/// <summary>Options for <see cref="SyntheticCheckpoint.Write"/>.</summary>
public sealed record SyntheticCheckpointOptions
{
    /// <summary>Seed of the weight generator; the same seed and config give byte-identical files.</summary>
    public ulong Seed { get; init; } = 1;

    /// <summary>Storage of Linear weights: F32, BF16 or F8_E4M3 (block-scaled). Other weights are BF16 unless this is F32.</summary>
    public DType WeightDType { get; init; } = DType.BF16;

    /// <summary>Number of shard files (1 writes a single <c>model.safetensors</c> without index).</summary>
    public int Shards { get; init; } = 1;

    /// <summary>Standard deviation of Linear and embedding weights.</summary>
    public float InitStd { get; init; } = 0.02f;
}

/// <summary>
/// Writes a random-weight checkpoint in the exact Hugging Face layout a config implies (<see cref="WeightLayout"/>):
/// <c>config.json</c> plus safetensors shards. For tests, benchmarks on real shapes, and the shipped sample.
/// </summary>
public static class SyntheticCheckpoint
{
    /// <summary>Writes the checkpoint into <paramref name="directory"/> (created if needed); returns the files written.</summary>
    public static IReadOnlyList<string> Write(ModelConfig config, string directory, SyntheticCheckpointOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentException.ThrowIfNullOrEmpty(directory);
        options ??= new SyntheticCheckpointOptions();
        if (options.WeightDType is not (DType.F32 or DType.BF16 or DType.F8_E4M3))
            throw new ArgumentException($"weight dtype {options.WeightDType} is not supported; use F32, BF16 or F8_E4M3", nameof(options));
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Shards, 1);

        var fp8 = options.WeightDType == DType.F8_E4M3;
        if (fp8 && config.Quantization is null)
            config = config with { Quantization = new QuantizationConfig { QuantMethod = "fp8", Format = "e4m3", BlockRows = 128, BlockCols = 128, ActivationScheme = "dynamic" } };
        // Non-Linear tensors are stored BF16 unless everything is F32; say so the way HF configs do.
        config = config with { TorchDtype = options.WeightDType == DType.F32 ? "float32" : "bfloat16" };
        var block = config.Quantization?.BlockRows ?? BlockFp8.DefaultBlockSize;
        if (fp8 && config.Quantization!.BlockCols != block)
            throw new ArgumentException("synthetic FP8 checkpoints need square quantization blocks", nameof(config));

        var writer = new SafeTensorsWriter().SetMetadata("format", "pt");
        var rng = new SplitMix64(options.Seed);
        foreach (var e in WeightLayout.For(config))
        {
            cancellationToken.ThrowIfCancellationRequested();
            var values = new float[checked((int)e.Shape.ElementCount)];
            Fill(values, e.Kind, options.InitStd, ref rng);
            // Only Linear weights inside decoder layers are FP8 in DeepSeek's checkpoints (MODEL.md).
            if (fp8 && e.Kind == WeightKind.Linear && e.Layer is not null)
                writer.AddFp8Block(e.Name, (int)e.Shape[0], (int)e.Shape[1], values, block);
            else if (options.WeightDType == DType.F32 || e.Kind == WeightKind.RouterBias)
                writer.AddF32(e.Name, e.Shape, values);
            else
                writer.AddBF16(e.Name, e.Shape, values);
        }

        Directory.CreateDirectory(directory);
        AtomicFile.WriteAllText(Path.Combine(directory, "config.json"), config.ToJson());
        var files = new List<string> { "config.json" };
        files.AddRange(writer.WriteShards(directory, options.Shards, cancellationToken: cancellationToken));
        return files;
    }

    private static void Fill(Span<float> values, WeightKind kind, float std, ref SplitMix64 rng)
    {
        switch (kind)
        {
            case WeightKind.Norm:
                // Near 1, as trained RMSNorm scales are, but not exactly 1 so a missed norm is visible.
                for (var i = 0; i < values.Length; i++) values[i] = 1f + 0.1f * rng.NextSymmetric();
                break;
            case WeightKind.RouterBias:
            case WeightKind.Bias:
                for (var i = 0; i < values.Length; i++) values[i] = 0.01f * rng.NextSymmetric();
                break;
            default:
                // Uniform in [-a, a] with a = std·√3 has standard deviation std.
                var a = std * MathF.Sqrt(3f);
                for (var i = 0; i < values.Length; i++) values[i] = a * rng.NextSymmetric();
                break;
        }
    }

    /// <summary>SplitMix64: tiny, fast, and stable across .NET versions (unlike seeded <see cref="Random"/> guarantees).</summary>
    private struct SplitMix64(ulong seed)
    {
        private ulong _state = seed;

        public ulong Next()
        {
            var z = _state += 0x9E3779B97F4A7C15UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }

        /// <summary>Uniform in [-1, 1).</summary>
        public float NextSymmetric() => (float)((Next() >> 40) * (1.0 / (1UL << 24))) * 2f - 1f;
    }
}
