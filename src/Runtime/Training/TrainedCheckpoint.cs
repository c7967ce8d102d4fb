using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Tensors;

namespace DeepSeek.Runtime.Training;

/// <summary>
/// Writes trained weights as a Hugging Face checkpoint that <c>deepseek inspect</c>/<c>generate</c> and other tools load:
/// <c>config.json</c>, <c>model.safetensors</c> in F32 or BF16 (FP8 sources are saved dequantised, without their
/// <c>quantization_config</c>), the router biases in F32, and the source's tokenizer files. Each file is written
/// atomically, so an interrupted save never leaves a torn file.
/// </summary>
public static class TrainedCheckpoint
{
    private static readonly string[] CopiedFiles = ["tokenizer.json", "tokenizer_config.json", "generation_config.json"];

    /// <summary>Saves <paramref name="parameters"/> to <paramref name="directory"/>; <paramref name="sourceDirectory"/> supplies the tokenizer files.</summary>
    public static void Save(ModelParameters<float> parameters, string directory, DType dtype, string? sourceDirectory = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (dtype is not (DType.F32 or DType.BF16)) throw new ArgumentException($"save dtype must be F32 or BF16, not {dtype}", nameof(dtype));
        var config = parameters.Config with { Quantization = null, TorchDtype = dtype == DType.F32 ? "float32" : "bfloat16" };
        var writer = new SafeTensorsWriter().SetMetadata("format", "pt");
        var shapes = WeightLayout.For(config).ToDictionary(e => e.Name, e => e.Shape);
        foreach (var (name, values) in parameters.Tensors())
        {
            cancellationToken.ThrowIfCancellationRequested();
            var shape = shapes.TryGetValue(name, out var s) ? s : throw new InvalidOperationException($"no layout entry for trainable tensor '{name}'");
            if (dtype == DType.F32) writer.AddF32(name, shape, values);
            else writer.AddBF16(name, shape, values);
        }
        for (var layer = 0; layer < parameters.RouterBias.Length; layer++)
            if (parameters.RouterBias[layer] is { } bias)
                writer.AddF32(WeightLayout.LayerPrefix(layer) + "mlp.gate.e_score_correction_bias", Shape.Of(bias.Length), bias);

        Directory.CreateDirectory(directory);
        writer.WriteShards(directory, 1, cancellationToken: cancellationToken);
        AtomicFile.WriteAllText(Path.Combine(directory, "config.json"), config.ToJson());
        if (sourceDirectory is null) return;
        foreach (var file in CopiedFiles)
        {
            var source = Path.Combine(sourceDirectory, file);
            if (File.Exists(source)) AtomicFile.WriteAllBytes(Path.Combine(directory, file), File.ReadAllBytes(source));
        }
    }
}
