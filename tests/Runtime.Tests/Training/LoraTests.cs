using System.Text.Json;
using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Training;
using DeepSeek.Runtime.Training.Lora;
using DeepSeek.Runtime.Training.Sft;

namespace DeepSeek.Runtime.Tests.Training;

public sealed class LoraTests : IDisposable
{
    private readonly TempDir _dir = new();
    private readonly Checkpoint _checkpoint = Checkpoint.Open(RepoPaths.TestData("models", "tiny-qwen2"));

    public void Dispose()
    {
        _checkpoint.Dispose();
        _dir.Dispose();
    }

    private static List<TrainingSequence> Data()
    {
        var rng = new Random(6);
        return Enumerable.Range(0, 4).Select(_ => new TrainingSequence(Enumerable.Range(0, 10).Select(_ => rng.Next(2, 256)).ToArray())).ToList();
    }

    [Fact]
    public void Adapter_gradients_match_finite_differences_through_the_merged_model()
    {
        var map = WeightMap.Bind(_checkpoint);
        var p = ModelParameters<float>.Load(map);
        var adapter = LoraAdapter.Create(p.Config, new LoraOptions { Rank = 2, Alpha = 4, TargetModules = ["q_proj", "down_proj"] });
        var rng = new Random(2);
        foreach (var pair in adapter.Pairs) for (var i = 0; i < pair.B.Length; i++) pair.B[i] = (float)(rng.NextDouble() - 0.5) * 0.2f;
        var model = new TrainableModel<float>(p, 10);
        var batch = Data().Take(2).ToList();
        double Loss()
        {
            adapter.Merge(map, p);
            return model.ForwardBackward(batch, ModelParameters<float>.ZerosLike(p), 0f).Total;
        }
        Loss();
        var grads = ModelParameters<float>.ZerosLike(p);
        model.ForwardBackward(batch, grads, 0f);
        var adapterGrads = adapter.ZerosLike();
        adapter.Gradients(grads, adapterGrads);

        foreach (var (pair, g) in adapter.Pairs.Zip(adapterGrads.Pairs))
            foreach (var (values, analytic, name) in new[] { (pair.A, g.A, "A"), (pair.B, g.B, "B") })
            {
                var scale = analytic.Max(MathF.Abs);
                Assert.True(scale > 1e-5, $"{pair.Target}.{name}: gradient all but zero");
                for (var i = 0; i < values.Length; i += Math.Max(1, values.Length / 6))
                {
                    var keep = values[i];
                    values[i] = keep + 1e-2f;
                    var up = Loss();
                    values[i] = keep - 1e-2f;
                    var down = Loss();
                    values[i] = keep;
                    var numeric = (up - down) / 2e-2;
                    Assert.True(Math.Abs(numeric - analytic[i]) <= 0.02 * scale + 1e-4, $"{pair.Target}.{name}[{i}]: analytic {analytic[i]}, numeric {numeric}");
                }
            }
    }

    [Fact]
    public void Lora_training_lowers_the_loss_changing_only_adapted_tensors_and_saves_peft_files()
    {
        var map = WeightMap.Bind(_checkpoint);
        var p = ModelParameters<float>.Load(map);
        var before = p.Tensors().ToDictionary(t => t.Name, t => (float[])t.Values.Clone());
        var adapter = LoraAdapter.Create(p.Config, new LoraOptions { Rank = 4, Alpha = 8, TargetModules = ["q_proj", "v_proj", "o_proj"] });
        var trainer = new SftTrainer(p, 10, new SftOptions { Steps = 25, BatchSize = 4, LearningRate = 2e-2 }).WithLora(adapter, map);
        var history = trainer.Train(Data());
        Assert.True(history[^1].Loss < history[0].Loss * 0.8, $"loss {history[0].Loss} → {history[^1].Loss}");

        foreach (var (name, values) in p.Tensors())
        {
            if (adapter.Options.Targets(name)) Assert.False(values.AsSpan().SequenceEqual(before[name]), $"{name} should have moved");
            else Assert.True(values.AsSpan().SequenceEqual(before[name]), $"{name} is frozen but changed");
        }

        adapter.Save(_dir.File("adapter"), "tiny-qwen2");
        using (var config = JsonDocument.Parse(File.ReadAllText(_dir.File("adapter/adapter_config.json"))))
        {
            Assert.Equal("LORA", config.RootElement.GetProperty("peft_type").GetString());
            Assert.Equal(4, config.RootElement.GetProperty("r").GetInt32());
        }
        using (var file = SafeTensorsFile.Open(_dir.File("adapter/adapter_model.safetensors")))
            Assert.Contains(file.Tensors, t => t.Name == "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight");

        var loaded = LoraAdapter.Load(_dir.File("adapter"), p.Config);
        var merged = ModelParameters<float>.Load(map);
        loaded.Merge(map, merged);
        foreach (var ((name, a), (_, b)) in p.Tensors().Zip(merged.Tensors()))
            Assert.True(a.AsSpan().SequenceEqual(b), $"{name}: reloaded adapters merge to different weights");
    }
}
