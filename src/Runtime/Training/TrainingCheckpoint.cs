using System.Text.Json;
using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Tensors;

namespace DeepSeek.Runtime.Training;

/// <summary>Where a trainer stands: the next optimizer step, and the data order's epoch and cursor.</summary>
/// <param name="Step">Optimizer steps completed.</param>
/// <param name="Epoch">Epochs of the data started.</param>
/// <param name="Cursor">Examples taken in the current epoch.</param>
public sealed record TrainerPosition(int Step, int Epoch, int Cursor);

/// <summary>
/// A resumable training checkpoint folder <c>step-NNNNNN/</c>: the weights as a Hugging Face checkpoint in F32 (the exact
/// fp32 master values), <c>optimizer.safetensors</c> (AdamW moments per tensor) and <c>trainer_state.json</c> (position,
/// loss history). The folder is written under a temporary name and renamed, so a crash or cancellation leaves either the
/// complete checkpoint or none; older checkpoints are untouched.
/// </summary>
public static class TrainingCheckpoint
{
    private const string StateFile = "trainer_state.json";
    private const string OptimizerFile = "optimizer.safetensors";

    /// <summary>The LoRA adapters saved with a checkpoint (its <c>adapter/</c> folder), or null for a full fine-tune.</summary>
    public static Lora.LoraAdapter? LoadAdapter(string folder, ModelConfig config) =>
        Directory.Exists(Path.Combine(folder, "adapter")) ? Lora.LoraAdapter.Load(Path.Combine(folder, "adapter"), config) : null;

    /// <summary>The newest complete checkpoint under <paramref name="root"/>, or null.</summary>
    public static string? Latest(string root) =>
        Directory.Exists(root)
            ? Directory.GetDirectories(root, "step-*").Where(d => File.Exists(Path.Combine(d, StateFile))).Order(StringComparer.Ordinal).LastOrDefault()
            : null;

    /// <summary>Writes checkpoint <paramref name="position"/>.Step under <paramref name="root"/>; returns its folder.</summary>
    public static string Save(string root, TrainerPosition position, ModelParameters<float> parameters,
        IReadOnlyDictionary<string, (float[] M, float[] V)> optimizer, IReadOnlyList<double> losses, string? sourceDirectory, Lora.LoraAdapter? lora = null)
    {
        var final = Path.Combine(root, $"step-{position.Step:D6}");
        var temp = Path.Combine(root, $".step-{position.Step:D6}.{Guid.NewGuid():N}.tmp");
        Directory.CreateDirectory(temp);
        try
        {
            TrainedCheckpoint.Save(parameters, temp, DType.F32, sourceDirectory);
            var moments = new SafeTensorsWriter();
            foreach (var (name, (m, v)) in optimizer.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            {
                moments.AddF32(name + ".exp_avg", Shape.Of(m.Length), m);
                moments.AddF32(name + ".exp_avg_sq", Shape.Of(v.Length), v);
            }
            moments.WriteFile(Path.Combine(temp, OptimizerFile));
            lora?.Save(Path.Combine(temp, "adapter"), sourceDirectory);
            var state = JsonSerializer.Serialize(new { step = position.Step, epoch = position.Epoch, cursor = position.Cursor, losses });
            AtomicFile.WriteAllText(Path.Combine(temp, StateFile), state);
            if (Directory.Exists(final)) Directory.Delete(final, recursive: true);
            Directory.Move(temp, final);
            return final;
        }
        catch
        {
            try { Directory.Delete(temp, recursive: true); } catch (IOException) { }
            throw;
        }
    }

    /// <summary>Reads a checkpoint folder written by <see cref="Save"/>.</summary>
    public static (TrainerPosition Position, ModelParameters<float> Parameters, Dictionary<string, (float[] M, float[] V)> Optimizer, List<double> Losses) Load(string folder)
    {
        using var checkpoint = Checkpoint.Open(folder);
        var parameters = ModelParameters<float>.Load(WeightMap.Bind(checkpoint));
        var optimizer = new Dictionary<string, (float[] M, float[] V)>(StringComparer.Ordinal);
        var optimizerPath = Path.Combine(folder, OptimizerFile);
        if (File.Exists(optimizerPath))
        {
            using var file = SafeTensorsFile.Open(optimizerPath);
            foreach (var t in file.Tensors.Where(t => t.Name.EndsWith(".exp_avg", StringComparison.Ordinal)))
            {
                var name = t.Name[..^".exp_avg".Length];
                optimizer[name] = (file.GetView<float>(t.Name).Span.ToArray(), file.GetView<float>(name + ".exp_avg_sq").Span.ToArray());
            }
        }
        using var state = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, StateFile)));
        var r = state.RootElement;
        var position = new TrainerPosition(r.GetProperty("step").GetInt32(), r.GetProperty("epoch").GetInt32(), r.GetProperty("cursor").GetInt32());
        var losses = r.GetProperty("losses").EnumerateArray().Select(e => e.GetDouble()).ToList();
        return (position, parameters, optimizer, losses);
    }
}
