using System.Text.Json;
using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Training;
using DeepSeek.Runtime.Training.Lora;
using DeepSeek.Runtime.Training.Ops;
using DeepSeek.Runtime.Training.Sft;

namespace DeepSeek.Runtime.Tests.Training;

/// <summary>
/// LoRA as its own branch, y = x·W₀ᵀ + (α/r)·dropout(x)·Aᵀ·Bᵀ (PEFT: dropout on A's input only): its backward against
/// finite differences with dropout on, its agreement with the merged-weight path without dropout, dropout's effect on
/// training and its absence at inference, and lora_dropout in the PEFT files.
/// </summary>
public sealed class LoraBranchTests : IDisposable
{
    private readonly TempDir _dir = new();
    private readonly Checkpoint _v3 = Checkpoint.Open(RepoPaths.TestData("models", "tiny-v3"));
    private readonly Checkpoint _qwen = Checkpoint.Open(RepoPaths.TestData("models", "tiny-qwen2"));

    public void Dispose()
    {
        _v3.Dispose();
        _qwen.Dispose();
        _dir.Dispose();
    }

    private static readonly string[] V3Targets = ["q_b_proj", "kv_b_proj", "o_proj", "gate_proj", "up_proj", "down_proj", "eh_proj"];
    private static readonly string[] QwenTargets = ["q_proj", "v_proj", "o_proj", "down_proj"];

    private static List<TrainingSequence> Data(int count, int length, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => new TrainingSequence(Enumerable.Range(0, length).Select(_ => rng.Next(2, 256)).ToArray())).ToList();
    }

    private static LoraAdapter Adapter(ModelConfig config, string[] targets, double dropout, int seed = 1)
    {
        var adapter = LoraAdapter.Create(config, new LoraOptions { Rank = 2, Alpha = 4, TargetModules = targets, Dropout = dropout });
        var rng = new Random(seed);
        foreach (var pair in adapter.Pairs)
            for (var i = 0; i < pair.B.Length; i++) pair.B[i] = (float)(rng.NextDouble() - 0.5) * 0.2f;   // B ≠ 0: the branch matters
        return adapter;
    }

    /// <summary>Branches of type <typeparamref name="T"/> over <paramref name="p"/>'s targeted weights, copying A and B from <paramref name="adapter"/>.</summary>
    private static (LoraBranches<T> Branches, List<(string Name, T[] A, T[] B, T[] DA, T[] DB)> Pairs) Branches<T>(ModelParameters<T> p, LoraAdapter adapter, int rows, int seed = 5)
        where T : System.Numerics.IFloatingPointIeee754<T>
    {
        var branches = new LoraBranches<T>(rows, adapter.Options.Dropout, seed);
        var pairs = new List<(string, T[], T[], T[], T[])>();
        foreach (var pair in adapter.Pairs)
        {
            var a = pair.A.Select(v => T.CreateChecked(v)).ToArray();
            var b = pair.B.Select(v => T.CreateChecked(v)).ToArray();
            var (da, db) = (new T[a.Length], new T[b.Length]);
            branches.Add(pair.Target, p[pair.Target], pair.Outputs, pair.Inputs, pair.Rank, a, b, da, db, T.CreateChecked(adapter.Options.Scale));
            pairs.Add((pair.Target, a, b, da, db));
        }
        return (branches, pairs);
    }

    [Fact]
    public void Branch_gradients_with_a_fixed_dropout_mask_match_finite_differences_in_float64()
    {
        const int rows = 5, inputs = 7, outputs = 6, rank = 3;
        const double p = 0.4, scale = 1.7;
        var rng = new Random(11);
        double[] Random(int n) => Enumerable.Range(0, n).Select(_ => rng.NextDouble() * 2 - 1).ToArray();
        double[] x = Random(rows * inputs), a = Random(rank * inputs), b = Random(outputs * rank), w = Random(outputs * inputs), g = Random(rows * outputs);
        var mask = Enumerable.Range(0, rows * inputs).Select(_ => rng.NextDouble() < p ? 0 : 1 / (1 - p)).ToArray();
        Assert.Contains(0.0, mask);
        Assert.Contains(1 / (1 - p), mask);

        // L = ⟨G, x·Wᵀ + s·(m ⊙ x)·Aᵀ·Bᵀ⟩: the base projection and the branch, as a layer calls them.
        double Loss()
        {
            var y = new double[rows * outputs];
            LinearOp.Forward<double>(x, w, [], y, rows, inputs, outputs);
            LoraOp.Forward<double>(x, mask, a, b, new double[rows * inputs], new double[rows * rank], y, rows, inputs, outputs, rank, scale);
            return y.Zip(g, (u, v) => u * v).Sum();
        }
        var (xd, us) = (new double[rows * inputs], new double[rows * rank]);
        LoraOp.Forward<double>(x, mask, a, b, xd, us, new double[rows * outputs], rows, inputs, outputs, rank, scale);
        var (dx, da, db) = (new double[x.Length], new double[a.Length], new double[b.Length]);
        LinearOp.Backward<double>(g, x, w, dx, [], [], rows, inputs, outputs);
        LoraOp.Backward<double>(g, mask, xd, us, a, b, new double[rows * rank], new double[rows * inputs], dx, da, db, rows, inputs, outputs, rank, scale);

        FiniteDifferences.AssertGradient("A", a, da, Loss);
        FiniteDifferences.AssertGradient("B", b, db, Loss);
        FiniteDifferences.AssertGradient("x", x, dx, Loss);
        // Where the mask drops an input, only the base projection's gradient reaches it.
        for (var i = 0; i < mask.Length; i++)
            if (mask[i] == 0) Assert.Equal(BaseGradient(i), dx[i], 12);

        double BaseGradient(int i)
        {
            int t = i / inputs, k = i % inputs;
            double s = 0;
            for (var o = 0; o < outputs; o++) s += g[t * outputs + o] * w[o * inputs + k];
            return s;
        }
    }

    [Fact]
    public void Whole_model_gradients_of_the_adapters_with_dropout_match_finite_differences_in_float64()
    {
        var p = ModelParameters<double>.Load(WeightMap.Bind(_v3));
        var adapter = Adapter(p.Config, V3Targets, dropout: 0.3);
        var (branches, pairs) = Branches(p, adapter, rows: 7);
        var model = new TrainableModel<double>(p, 7);
        model.AttachLora(branches);
        model.DropoutStep = 3;                                          // one fixed set of masks for every evaluation
        var batch = Data(2, 7, 8);
        double Loss() => model.ForwardBackward(batch, ModelParameters<double>.ZerosLike(p), 0.3).Total;
        model.DropoutStep = 4;
        var otherMasks = Loss();
        model.DropoutStep = 3;
        Assert.NotEqual(otherMasks, Loss());                            // dropout is on: other masks, another loss
        foreach (var x in pairs)
        {
            Array.Clear(x.DA);
            Array.Clear(x.DB);
        }
        model.ForwardBackward(batch, ModelParameters<double>.ZerosLike(p), 0.3);
        var analytic = pairs.Select(x => (A: (double[])x.DA.Clone(), B: (double[])x.DB.Clone())).ToList();   // each Loss() call accumulates more
        var load = model.ExpertLoad.Select(l => l?.ToArray()).ToArray();
        void SameChoice()
        {
            for (var l = 0; l < load.Length; l++) Assert.Equal(load[l], model.ExpertLoad[l]);
        }

        var rng = new Random(4);
        for (var n = 0; n < pairs.Count; n += 3)                        // every third adapter: attention, dense and expert MLPs, MTP
        {
            var (name, a, b, _, _) = pairs[n];
            FiniteDifferences.AssertGradient(name + ".A", a, analytic[n].A, Loss, FiniteDifferences.Sample(a.Length, rng, 3), SameChoice, tolerance: 1e-5);
            FiniteDifferences.AssertGradient(name + ".B", b, analytic[n].B, Loss, FiniteDifferences.Sample(b.Length, rng, 3), SameChoice, tolerance: 1e-5);
        }
        Assert.Contains(pairs.Where((_, n) => n % 3 == 0), x => x.Name.Contains("experts", StringComparison.Ordinal));
        Assert.Contains(pairs.Where((_, n) => n % 3 == 0), x => x.Name.Contains("eh_proj", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("tiny-v3")]
    [InlineData("tiny-qwen2")]
    public void Without_dropout_the_branch_gives_the_merged_paths_loss_and_adapter_gradients(string name)
    {
        var checkpoint = name == "tiny-v3" ? _v3 : _qwen;
        var map = WeightMap.Bind(checkpoint);
        var targets = name == "tiny-v3" ? V3Targets : QwenTargets;
        var adapter = Adapter(checkpoint.Config, targets, dropout: 0);
        var batch = Data(3, 10, 6);

        // Merged path: W = W₀ + s·B·A, full-weight gradients mapped to the adapters (dA = s·Bᵀ·dW, dB = s·dW·Aᵀ).
        var merged = ModelParameters<float>.Load(map);
        adapter.Merge(map, merged);
        var mergedGrads = ModelParameters<float>.ZerosLike(merged);
        var mergedLoss = new TrainableModel<float>(merged, 10).ForwardBackward(batch, mergedGrads, 0.3f).Total;
        var expected = adapter.ZerosLike();
        adapter.Gradients(mergedGrads, expected);

        // Branch path: W₀ untouched, the branches add s·x·Aᵀ·Bᵀ and accumulate dA, dB themselves.
        var frozen = ModelParameters<float>.Load(map);
        var (branches, pairs) = Branches(frozen, adapter, rows: 10);
        var model = new TrainableModel<float>(frozen, 10);
        model.AttachLora(branches);
        var branchLoss = model.ForwardBackward(batch, ModelParameters<float>.ZerosLike(frozen), 0.3f).Total;

        Assert.True(Math.Abs(branchLoss - mergedLoss) <= 1e-5 * Math.Abs(mergedLoss), $"loss {branchLoss} vs merged {mergedLoss}");
        foreach (var (pair, (target, _, _, da, db)) in expected.Pairs.Zip(pairs))
            foreach (var (want, got, which) in new[] { (pair.A, da, "A"), (pair.B, db, "B") })
            {
                var max = want.Max(MathF.Abs);
                Assert.True(max > 1e-6, $"{target}.{which}: gradient all but zero");
                for (var i = 0; i < want.Length; i++)
                    Assert.True(Math.Abs(want[i] - got[i]) <= 1e-3 * max, $"{target}.{which}[{i}]: branch {got[i]}, merged {want[i]}");
            }
    }

    [Fact]
    public void Dropout_changes_training_but_inference_after_training_equals_the_merged_weights()
    {
        var map = WeightMap.Bind(_v3);
        var data = Data(4, 12, 7);
        var options = new SftOptions { Steps = 6, BatchSize = 2, LearningRate = 1e-2, MtpWeight = 0.3, Seed = 3 };
        SftTrainer Train(double dropout)
        {
            var p = ModelParameters<float>.Load(map);
            var trainer = new SftTrainer(p, 12, options).WithLora(LoraAdapter.Create(p.Config, new LoraOptions { Rank = 4, TargetModules = V3Targets, Dropout = dropout }), map);
            trainer.Train(data);
            return trainer;
        }
        var plain = Train(0);
        var dropped = Train(0.3);
        var again = Train(0.3);

        // B starts at zero, so step 1 cannot see the mask; from step 2 on the masked updates tell.
        Assert.Equal(plain.Losses[0], dropped.Losses[0]);
        Assert.NotEqual(plain.Losses.Skip(1), dropped.Losses.Skip(1));
        Assert.Equal(dropped.Losses, again.Losses);                     // the masks are a function of the seed and step: repeatable
        Assert.Contains(dropped.Lora!.Pairs.Zip(plain.Lora!.Pairs), x => !x.First.B.AsSpan().SequenceEqual(x.Second.B));

        // Inference with the trained adapters as branches (no dropout) equals the merged weights the trainer holds.
        var frozen = ModelParameters<float>.Load(map);
        var (branches, _) = Branches(frozen, dropped.Lora!, rows: 12);
        var withBranches = new TrainableModel<float>(frozen, 12);
        withBranches.AttachLora(branches);
        var mergedModel = new TrainableModel<float>(dropped.Parameters, 12);
        foreach (var sequence in Data(3, 12, 9))
        {
            var viaBranches = withBranches.TokenLogProbs(sequence);
            Assert.Equal(viaBranches, withBranches.TokenLogProbs(sequence));   // no mask: the same every time
            var viaMerged = mergedModel.TokenLogProbs(sequence);
            for (var t = 0; t < viaMerged.Length; t++)
                Assert.True(Math.Abs(viaBranches[t] - viaMerged[t]) <= 1e-4, $"position {t}: branches {viaBranches[t]}, merged {viaMerged[t]}");
        }
        // And the merged weights are exactly what LoraAdapter.Merge gives for the trained adapters (no dropout in merging).
        var remerged = ModelParameters<float>.Load(map);
        dropped.Lora!.Merge(map, remerged);
        foreach (var ((n, a), (_, b)) in dropped.Parameters.Tensors().Zip(remerged.Tensors()))
            Assert.True(a.AsSpan().SequenceEqual(b), $"{n}: trainer's weights differ from the merge of its adapters");
    }

    [Fact]
    public void Peft_files_carry_lora_dropout_and_load_it_back()
    {
        var config = _qwen.Config;
        var adapter = Adapter(config, QwenTargets, dropout: 0.25);
        adapter.Save(_dir.File("adapter"), "tiny-qwen2");
        using (var json = JsonDocument.Parse(File.ReadAllText(_dir.File("adapter/adapter_config.json"))))
            Assert.Equal(0.25, json.RootElement.GetProperty("lora_dropout").GetDouble());
        var loaded = LoraAdapter.Load(_dir.File("adapter"), config);
        Assert.Equal(0.25, loaded.Options.Dropout);
        foreach (var (a, b) in adapter.Pairs.Zip(loaded.Pairs))
        {
            Assert.Equal(a.A, b.A);
            Assert.Equal(a.B, b.B);
        }

        var path = _dir.File("adapter/adapter_config.json");
        File.WriteAllText(path, File.ReadAllText(path).Replace("\"lora_dropout\": 0.25", "\"lora_dropout\": 1.5", StringComparison.Ordinal));
        var e = Assert.Throws<CheckpointFormatException>(() => LoraAdapter.Load(_dir.File("adapter"), config));
        Assert.Contains("dropout", e.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Theory]
    [InlineData(-0.1)]
    [InlineData(1.0)]
    [InlineData(double.NaN)]
    public void Dropout_outside_0_to_1_is_rejected(double dropout)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new LoraOptions { Dropout = dropout }.Validate());
        Assert.Throws<ArgumentOutOfRangeException>(() => LoraAdapter.Create(_qwen.Config, new LoraOptions { Dropout = dropout }));
    }

    [Fact]
    public void The_mask_generator_drops_a_fraction_p()
    {
        // The counter-based generator behind the masks: uniform enough that the dropped fraction is p.
        var key = LoraBranches<float>.Mix(42);
        var dropped = Enumerable.Range(0, 100_000).Count(i => LoraBranches<float>.Uniform(key, i) < 0.3);
        Assert.InRange(dropped / 100_000.0, 0.29, 0.31);
    }
}
