using System.Text.Json;
using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Tensors;

namespace DeepSeek.Runtime.Training.Lora;

/// <summary>One adapted projection: A [r, in], B [out, r]; ΔW = scale·B·A.</summary>
public sealed class LoraPair(string target, int outputs, int inputs, int rank)
{
    /// <summary>The adapted weight's HF name.</summary>
    public string Target { get; } = target;
    /// <summary>Output features of the weight.</summary>
    public int Outputs { get; } = outputs;
    /// <summary>Input features of the weight.</summary>
    public int Inputs { get; } = inputs;
    /// <summary>Rank.</summary>
    public int Rank { get; } = rank;
    /// <summary>lora_A [r, in].</summary>
    public float[] A { get; } = new float[rank * inputs];
    /// <summary>lora_B [out, r].</summary>
    public float[] B { get; } = new float[outputs * rank];
}

/// <summary>
/// A set of LoRA adapters over a base checkpoint, saved and loaded in PEFT's layout (<c>adapter_model.safetensors</c> with
/// <c>base_model.model.{module}.lora_A.weight</c> / <c>lora_B.weight</c>, and <c>adapter_config.json</c>), and merged
/// into full weights for inference or export.
/// </summary>
public sealed class LoraAdapter
{
    private const string PeftPrefix = "base_model.model.";

    private LoraAdapter(LoraOptions options, IReadOnlyList<LoraPair> pairs)
    {
        Options = options;
        Pairs = pairs;
    }

    /// <summary>Rank, α and targets.</summary>
    public LoraOptions Options { get; }

    /// <summary>The adapters, in layout order.</summary>
    public IReadOnlyList<LoraPair> Pairs { get; }

    /// <summary>
    /// Fresh adapters for every targeted 2-D weight of <paramref name="config"/>: A ~ U(−1/√in, 1/√in) (seeded; PEFT's
    /// <c>kaiming_uniform_(a=√5)</c>), B = 0,
    /// so the adapted model starts exactly at the base.
    /// </summary>
    public static LoraAdapter Create(ModelConfig config, LoraOptions options)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var rng = new Random(options.Seed);
        var pairs = WeightLayout.For(config).Where(e => e.Kind == WeightKind.Linear && e.Shape.Rank == 2 && options.Targets(e.Name))
            .Select(e => new LoraPair(e.Name, (int)e.Shape[0], (int)e.Shape[1], options.Rank)).ToList();
        if (pairs.Count == 0) throw new ArgumentException($"no weight of this {config.ModelType} model matches the target modules {string.Join(", ", options.TargetModules)}");
        foreach (var p in pairs)
        {
            var bound = 1 / Math.Sqrt(p.Inputs);
            for (var i = 0; i < p.A.Length; i++) p.A[i] = (float)((rng.NextDouble() * 2 - 1) * bound);
        }
        return new LoraAdapter(options, pairs);
    }

    /// <summary>Writes W₀ + scale·B·A into <paramref name="weights"/> for every adapted tensor (W₀ read from <paramref name="baseWeights"/>).</summary>
    public void Merge(WeightMap baseWeights, ModelParameters<float> weights)
    {
        var scale = (float)Options.Scale;
        foreach (var p in Pairs)
        {
            var target = weights[p.Target];
            baseWeights.Tensor(p.Target)!.ToFloatArray().CopyTo(target, 0);
            for (var o = 0; o < p.Outputs; o++)
            {
                var row = target.AsSpan(o * p.Inputs, p.Inputs);
                for (var k = 0; k < p.Rank; k++)
                {
                    var b = scale * p.B[o * p.Rank + k];
                    if (b != 0) System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(p.A.AsSpan(k * p.Inputs, p.Inputs), b, row, row);
                }
            }
        }
    }

    /// <summary>
    /// Writes a full checkpoint with the adapters folded in: the base folder's weights (every tensor decoded to fp32,
    /// the adapted ones as W₀ + scale·B·A) saved in <paramref name="dtype"/> with the base's tokenizer files.
    /// </summary>
    public static void MergeCheckpoint(string baseDirectory, string adapterDirectory, string outDirectory, DType dtype)
    {
        using var checkpoint = Checkpoint.Open(baseDirectory);
        var map = WeightMap.Bind(checkpoint);
        var parameters = ModelParameters<float>.Load(map);
        Load(adapterDirectory, checkpoint.Config).Merge(map, parameters);
        TrainedCheckpoint.Save(parameters, outDirectory, dtype, baseDirectory);
    }

    /// <summary>Adapter gradients from the full-weight gradients: dA = scale·Bᵀ·dW, dB = scale·dW·Aᵀ.</summary>
    public void Gradients(ModelParameters<float> fullGradients, LoraAdapter into)
    {
        var scale = (float)Options.Scale;
        for (var n = 0; n < Pairs.Count; n++)
        {
            var p = Pairs[n];
            var g = into.Pairs[n];
            Array.Clear(g.A);
            Array.Clear(g.B);
            var dw = fullGradients[p.Target];
            for (var o = 0; o < p.Outputs; o++)
            {
                var row = dw.AsSpan(o * p.Inputs, p.Inputs);
                for (var k = 0; k < p.Rank; k++)
                {
                    // dB[o,k] = scale·Σ_i dW[o,i]·A[k,i];  dA[k,:] += scale·B[o,k]·dW[o,:]
                    g.B[o * p.Rank + k] = scale * System.Numerics.Tensors.TensorPrimitives.Dot(row, p.A.AsSpan(k * p.Inputs, p.Inputs));
                    System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(row, scale * p.B[o * p.Rank + k], g.A.AsSpan(k * p.Inputs, p.Inputs), g.A.AsSpan(k * p.Inputs, p.Inputs));
                }
            }
        }
    }

    /// <summary>Zeroed adapters of the same shapes (for gradients and optimizer moments).</summary>
    public LoraAdapter ZerosLike() => new(Options, Pairs.Select(p => new LoraPair(p.Target, p.Outputs, p.Inputs, p.Rank)).ToList());

    /// <summary>Saves <c>adapter_model.safetensors</c> and <c>adapter_config.json</c> (PEFT's names) atomically.</summary>
    public void Save(string directory, string? baseModel = null)
    {
        var writer = new SafeTensorsWriter().SetMetadata("format", "pt");
        foreach (var p in Pairs)
        {
            var module = PeftPrefix + p.Target[..^".weight".Length];
            writer.AddF32(module + ".lora_A.weight", Shape.Of(p.Rank, p.Inputs), p.A);
            writer.AddF32(module + ".lora_B.weight", Shape.Of(p.Outputs, p.Rank), p.B);
        }
        Directory.CreateDirectory(directory);
        writer.WriteFile(Path.Combine(directory, "adapter_model.safetensors"));
        var config = new Dictionary<string, object?>
        {
            ["peft_type"] = "LORA", ["task_type"] = "CAUSAL_LM", ["r"] = Options.Rank, ["lora_alpha"] = Options.Alpha, ["lora_dropout"] = Options.Dropout,
            ["target_modules"] = Options.TargetModules, ["bias"] = "none", ["fan_in_fan_out"] = false, ["inference_mode"] = true,
            ["base_model_name_or_path"] = baseModel,
        };
        AtomicFile.WriteAllText(Path.Combine(directory, "adapter_config.json"), JsonSerializer.Serialize(config, new JsonSerializerOptions { WriteIndented = true }));
    }

    /// <summary>Loads PEFT adapters saved by us or by PEFT (LoRA, no bias, no fan-in-fan-out) for <paramref name="config"/>.</summary>
    public static LoraAdapter Load(string directory, ModelConfig config)
    {
        var configPath = Path.Combine(directory, "adapter_config.json");
        using var doc = JsonDocument.Parse(File.ReadAllText(configPath));
        var root = doc.RootElement;
        if (!root.TryGetProperty("peft_type", out var type) || type.GetString() != "LORA")
            throw new CheckpointFormatException("adapter_config.json is not a LoRA adapter (peft_type must be LORA)", configPath);
        var options = new LoraOptions
        {
            Rank = root.GetProperty("r").GetInt32(),
            Alpha = root.GetProperty("lora_alpha").GetDouble(),
            TargetModules = root.GetProperty("target_modules").EnumerateArray().Select(e => e.GetString()!).ToList(),
            Dropout = root.TryGetProperty("lora_dropout", out var dropout) && dropout.ValueKind == JsonValueKind.Number ? dropout.GetDouble() : 0,
        };
        try
        {
            options.Validate();
        }
        catch (ArgumentException e)
        {
            throw new CheckpointFormatException($"adapter_config.json: {e.Message}", configPath, inner: e);
        }
        var adapter = Create(config, options);
        using var file = SafeTensorsFile.Open(Path.Combine(directory, "adapter_model.safetensors"));
        foreach (var p in adapter.Pairs)
        {
            var module = PeftPrefix + p.Target[..^".weight".Length];
            Read(file, module + ".lora_A.weight", p.A, Shape.Of(p.Rank, p.Inputs));
            Read(file, module + ".lora_B.weight", p.B, Shape.Of(p.Outputs, p.Rank));
        }
        return adapter;
    }

    private static void Read(SafeTensorsFile file, string name, float[] into, Shape shape)
    {
        if (!file.TryGetInfo(name, out var info)) throw new CheckpointFormatException("adapter tensor missing", file.Path, name);
        if (info.Shape != shape) throw new CheckpointFormatException($"adapter tensor has shape {info.Shape}, expected {shape}", file.Path, name);
        new WeightTensor(new CheckpointTensor(file, info), null).ToFloatArray().CopyTo(into, 0);
    }
}
