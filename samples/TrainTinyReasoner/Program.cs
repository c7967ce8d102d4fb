// The recipe of the embedded default model, in the R1 spirit, from ordinary C#:
//   1. a byte-level BPE tokenizer with DeepSeek's special tokens and R1's chat template;
//   2. a randomly initialised DeepSeek-V3-in-miniature (MLA, MoE with noaux_tc, YaRN, one MTP layer);
//   3. a small cold-start SFT curriculum on column-wise reasoning traces (operands of up to 3, then up to 4 digits),
//      the MTP loss on;
//   4. GRPO on prompts only (up to 5 digits) with rule rewards written in C#: exact answer + format;
//   5. a second round, as R1 runs SFT → RL twice: SFT on fresh traces of up to 4 digits at a lower learning rate, then
//      GRPO again;
//   6. held-out evaluation after each stage (1,000 problems never drawn for training, 5-digit ones — longer than any
//      SFT example — included).
// Seeded. Run from the repository root (15 min on 2 shared cores; writes models/deepseek-tiny-reasoner):
//   dotnet run --project samples/TrainTinyReasoner -c Release
// Stages can be run one by one (--stages init,sft,sft2,grpo,sft3,grpo2,eval) with their intermediate checkpoints in --work.
using System.Diagnostics;
using System.Globalization;
using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Compute.Cpu;
using DeepSeek.Runtime.Distributed;
using DeepSeek.Runtime.Evaluation;
using DeepSeek.Runtime.Model;
using DeepSeek.Runtime.Tensors;
using DeepSeek.Runtime.Tokenization;
using DeepSeek.Runtime.Training;
using DeepSeek.Runtime.Training.Grpo;
using DeepSeek.Runtime.Training.Sft;
using TrainTinyReasoner;

var options = RecipeOptions.Parse(args);
var work = Path.GetFullPath(options.Work);
var initDir = Path.Combine(work, "init");
var sftDir = Path.Combine(work, "sft");
var sft2Dir = Path.Combine(work, "sft2");
var grpoDir = Path.Combine(work, "grpo");
var sft3Dir = Path.Combine(work, "sft3");
var outDir = Path.GetFullPath(options.Out);
Directory.CreateDirectory(initDir);
using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) => { e.Cancel = true; cancel.Cancel(); };
var clock = Stopwatch.StartNew();

if (options.Stages.Contains("init"))
{
    var template = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "chat_template.jinja"));
    var tokens = ReasonerTokenizer.Write(initDir, template);
    var vocab = (tokens + 63) / 64 * 64;
    var config = ModelConfig.Parse(ReasonerConfig.Json(vocab, options.Hidden, options.Layers, options.Heads), "config.json");
    SyntheticCheckpoint.Write(config, initDir, new SyntheticCheckpointOptions { Seed = (ulong)options.Seed, WeightDType = DType.F32, InitStd = 0.02f });
    Console.WriteLine($"init: {tokens} tokens (vocab {vocab}), {config.HiddenSize} hidden, {config.NumHiddenLayers} layers → {initDir}");
}

// Cold-start SFT as a two-step curriculum: short operands first (the model finds the scratchpad's structure), then
// one digit longer (GRPO and the held-out set go one digit further still).
if (options.Stages.Contains("sft"))
    Sft(initDir, sftDir, options.SftDigits, options.SftSteps, options.SftLearningRate, options.SequenceLength, options.Seed);
if (options.Stages.Contains("sft2"))
    Sft(sftDir, sft2Dir, options.SftDigits + 1, options.Sft2Steps, options.SftLearningRate / 2, options.SequenceLength + 32, options.Seed + 2);

if (options.Stages.Contains("grpo"))
    await Grpo(sft2Dir, grpoDir, options.Seed + 1, options.Seed, "round 1");

// Round 2, as R1 does (SFT → RL → SFT → RL): fresh traces of up to 4 digits at a lower learning rate mend the column
// facts the first round still gets wrong (borrows, x·m + carry), then RL again.
if (options.Stages.Contains("sft3"))
    Sft(grpoDir, sft3Dir, options.SftDigits + 1, options.Sft3Steps, options.SftLearningRate / 6, options.SequenceLength + 32, options.Seed + 8);
if (options.Stages.Contains("grpo2"))
    await Grpo(sft3Dir, outDir, options.Seed + 7, options.Seed + 6, "round 2");

if (options.Stages.Contains("eval")) Evaluate(outDir, "shipped");
Console.WriteLine($"total {clock.Elapsed:hh\\:mm\\:ss}");

async Task Grpo(string from, string to, int problemSeed, int seed, string label)
{
    using var model = LoadedModel.Open(from);
    var evaluator = model.Evaluator;
    var problems = ArithmeticTask.Sample(options.GrpoProblems, problemSeed, ArithmeticSplit.Train, options.GrpoDigits);
    var prompts = problems.Select(p => evaluator.Prompt(p.Question)).ToList();
    // Rewards are plain C#: 1 for the exact answer, 0.2 for closing the reasoning and answering (R1's two rule rewards).
    Func<RewardContext, double> exact = c => c.Text is { } t && ArithmeticTask.Grade(problems[c.PromptIndex], t).Correct ? 1.0 : 0.0;
    Func<RewardContext, double> format = c => c.Text is { } t && ArithmeticTask.Grade(problems[c.PromptIndex], t).WellFormed ? 0.2 : 0.0;
    var grpo = new GrpoOptions
    {
        GroupSize = options.GroupSize,
        PromptsPerStep = options.PromptsPerStep,
        MaxCompletionTokens = 256,
        Temperature = 1.0,
        ClipEpsilon = 0.2,
        KlBeta = 0.001,
        Epochs = 1,
        Steps = options.GrpoSteps,
        LearningRate = options.GrpoLearningRate,
        MaxGradNorm = 1.0,
        Seed = seed,
        SampleableTokens = model.Tokenizer.VocabSize,
    };
    using var trainer = new GrpoTrainer(ModelParameters<float>.Load(model.Weights), grpo, [exact, format],
        () => new DeepSeek.Runtime.Generation.TokenizerTextDecoder(model.Tokenizer, skipSpecialTokens: true));
    var last = clock.Elapsed;
    var progress = new Progress<GrpoProgress>(p => Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"  grpo {p.Step,4}/{p.Steps}  reward {p.MeanReward:F3} ± {p.RewardStd:F3}  kl {p.Kl:F4}  clip {p.ClipFraction:P0}  length {p.MeanCompletionLength:F1}  [{clock.Elapsed:mm\\:ss}]")));
    await trainer.TrainAsync(prompts, progress, cancel.Token);
    TrainedCheckpoint.Save(trainer.Parameters, to, DType.F32, from, cancel.Token);
    Console.WriteLine($"GRPO done in {clock.Elapsed - last:mm\\:ss} → {to}");
    Evaluate(to, $"after GRPO ({label})");
}

void Sft(string from, string to, int digits, int steps, double learningRate, int sequenceLength, int seed)
{
    using var model = LoadedModel.Open(from);
    var data = new ReasonerData(model.Evaluator, model.Tokenizer, model.Config.EosTokenIds[0]);
    var problems = ArithmeticTask.Sample(50_000, seed, ArithmeticSplit.Train, digits);
    var sequences = data.Pack(problems, sequenceLength, new Random(seed));
    Console.WriteLine($"SFT: {problems.Count} problems (≤ {digits} digits) packed into {sequences.Count} sequences of {sequenceLength}");
    var sft = new SftOptions
    {
        LearningRate = learningRate,
        MinLearningRate = learningRate / 10,
        WarmupSteps = steps / 20,
        Steps = steps,
        BatchSize = options.BatchSize,
        MaxGradNorm = 1.0,
        MtpWeight = 0.3,
        BiasUpdateSpeed = 0.005f,
        Shuffle = true,
        Seed = seed,
        AdamW = new() { WeightDecay = 0.01 },
        CheckpointDirectory = to + "-checkpoints",
        CheckpointEvery = 250,
    };
    var last = clock.Elapsed;
    var progress = new Progress<TrainingProgress>(p =>
    {
        if (p.Step % 50 != 0 && p.Step != p.Steps) return;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  sft {p.Step,5}/{p.Steps}  loss {p.MainLoss:F4}  mtp {p.MtpLoss:F4}  lr {p.LearningRate:E2}  |g| {p.GradNorm:F2}  {p.TokensPerSecond:F0} tok/s  imbalance {p.LoadImbalance:F2}  [{clock.Elapsed:mm\\:ss}]"));
    });
    // Data parallelism over in-process ranks (ZeRO-1, as `deepseek train sft --parallel inproc --ranks N`): each rank runs
    // its share of every batch on its own thread. The rank count is part of the recipe, not the machine, because it sets
    // the order in which gradients are summed: the same seed gives the same model on any number of cores.
    var weights = ModelParameters<float>.Load(model.Weights);
    var ranks = InProcessCommunicator.Run(options.Ranks, c =>
    {
        var trainer = new DataParallelSftTrainer(c.Rank == 0 ? weights : ModelParameters<float>.Load(model.Weights), sequenceLength, sft, c, from);
        trainer.Train(sequences, c.Rank == 0 ? progress : null, cancel.Token);
        return trainer.Parameters;
    });
    TrainedCheckpoint.Save(ranks[0], to, DType.F32, from, cancel.Token);
    Console.WriteLine($"SFT done in {clock.Elapsed - last:mm\\:ss} → {to}");
    Evaluate(to, $"after SFT (≤ {digits} digits)");
}

void Evaluate(string dir, string label)
{
    using var model = LoadedModel.Open(dir);
    var heldOut = ArithmeticTask.Sample(options.EvalProblems, seed: 20261122, ArithmeticSplit.HeldOut, options.GrpoDigits);
    var r = model.Evaluator.Evaluate(heldOut, cancellationToken: cancel.Token);
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"held-out {label}: accuracy {r.Accuracy:P1}, format {r.FormatAccuracy:P1}, mean length {r.MeanLength:F1} tokens; by digits: {string.Join(", ", r.ByLength.Select(kv => $"{kv.Key}:{kv.Value:P0}"))}; by op: {string.Join(", ", r.ByOperation.Select(kv => $"{kv.Key}:{kv.Value:P0}"))}"));
}

/// <summary>A checkpoint opened for inference on the CPU, with its arithmetic evaluator (tokenizer and chat format).</summary>
internal sealed class LoadedModel : IDisposable
{
    private readonly Checkpoint _checkpoint;
    private readonly CpuBackend _backend;

    private LoadedModel(string dir)
    {
        _checkpoint = Checkpoint.Open(dir);
        Weights = WeightMap.Bind(_checkpoint);
        _backend = new CpuBackend();
        Evaluator = ArithmeticEvaluator.Open(_backend, Weights, dir, maxPositions: 512);
    }

    public static LoadedModel Open(string dir) => new(dir);

    public WeightMap Weights { get; }

    public ArithmeticEvaluator Evaluator { get; }

    public BpeTokenizer Tokenizer => Evaluator.Tokenizer;

    public ModelConfig Config => Weights.Config;

    public void Dispose()
    {
        _backend.Dispose();
        _checkpoint.Dispose();
    }
}

/// <summary>The recipe's knobs; the defaults are the recipe that made the shipped model.</summary>
internal sealed record RecipeOptions
{
    public string Out { get; init; } = "models/deepseek-tiny-reasoner";
    public string Work { get; init; } = "artifacts/tiny-reasoner";
    public HashSet<string> Stages { get; init; } = ["init", "sft", "sft2", "grpo", "sft3", "grpo2"];
    public int Seed { get; init; } = 1;
    public int Hidden { get; init; } = 64;
    public int Layers { get; init; } = 3;
    public int Heads { get; init; } = 4;
    public int SequenceLength { get; init; } = 160;
    public int BatchSize { get; init; } = 8;
    public int Ranks { get; init; } = 2;
    public int SftSteps { get; init; } = 2400;
    public int SftDigits { get; init; } = 3;
    public int Sft2Steps { get; init; } = 3000;
    public int Sft3Steps { get; init; } = 2000;
    public double SftLearningRate { get; init; } = 3e-3;
    public int GrpoSteps { get; init; } = 60;
    public int GrpoProblems { get; init; } = 4_000;
    public int GrpoDigits { get; init; } = 5;
    public int GroupSize { get; init; } = 8;
    public int PromptsPerStep { get; init; } = 8;
    public double GrpoLearningRate { get; init; } = 3e-5;
    public int EvalProblems { get; init; } = 1000;

    public static RecipeOptions Parse(string[] args)
    {
        var o = new RecipeOptions();
        for (var i = 0; i < args.Length; i += 2)
        {
            if (i + 1 >= args.Length) throw new ArgumentException($"{args[i]} needs a value");
            var v = args[i + 1];
            int I() => int.Parse(v, CultureInfo.InvariantCulture);
            double D() => double.Parse(v, CultureInfo.InvariantCulture);
            o = args[i] switch
            {
                "--out" => o with { Out = v },
                "--work" => o with { Work = v },
                "--stages" => o with { Stages = [.. v.Split(',')] },
                "--seed" => o with { Seed = I() },
                "--hidden" => o with { Hidden = I() },
                "--layers" => o with { Layers = I() },
                "--heads" => o with { Heads = I() },
                "--seq-len" => o with { SequenceLength = I() },
                "--batch" => o with { BatchSize = I() },
                "--ranks" => o with { Ranks = I() },
                "--sft-steps" => o with { SftSteps = I() },
                "--sft2-steps" => o with { Sft2Steps = I() },
                "--sft3-steps" => o with { Sft3Steps = I() },
                "--sft-digits" => o with { SftDigits = I() },
                "--sft-lr" => o with { SftLearningRate = D() },
                "--grpo-steps" => o with { GrpoSteps = I() },
                "--grpo-digits" => o with { GrpoDigits = I() },
                "--grpo-lr" => o with { GrpoLearningRate = D() },
                "--group-size" => o with { GroupSize = I() },
                "--prompts-per-step" => o with { PromptsPerStep = I() },
                "--eval" => o with { EvalProblems = I() },
                _ => throw new ArgumentException($"unknown option {args[i]}"),
            };
        }
        return o;
    }
}
