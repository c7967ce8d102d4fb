// Fine-tunes the embedded model from ordinary C# code: it learns a new operation — "twice N" — from a few hundred worked
// examples (SFT; the reasoning reuses its multiply-by-a-digit scratchpad), then GRPO with a reward written as a C# lambda.
// Held-out accuracy on the new operation is printed before, after SFT and after GRPO.
//   dotnet run --project samples/TeachNewOperation -c Release [-- --out DIR]
using System.Globalization;
using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Compute.Cpu;
using DeepSeek.Runtime.Evaluation;
using DeepSeek.Runtime.Generation;
using DeepSeek.Runtime.Hosting;
using DeepSeek.Runtime.Model;
using DeepSeek.Runtime.Tensors;
using DeepSeek.Runtime.Tokenization;
using DeepSeek.Runtime.Training;
using DeepSeek.Runtime.Training.Grpo;
using DeepSeek.Runtime.Training.Sft;

var outDir = Path.GetFullPath(args.Length == 2 && args[0] == "--out" ? args[1] : Path.Combine("artifacts", "twice-reasoner"));
var source = EmbeddedModel.GetPath();
using var checkpoint = Checkpoint.Open(source);
var tokenizer = BpeTokenizer.FromDirectory(source);
var chat = ChatFormats.FromTokenizerConfig(source);
var eos = checkpoint.Config.EosTokenIds[0];
var parameters = ModelParameters<float>.Load(WeightMap.Bind(checkpoint));

var rng = new Random(7);
var train = Enumerable.Range(0, 3000).Select(_ => Twice.Draw(rng)).ToList();
var heldOut = Enumerable.Range(0, 200).Select(_ => Twice.Draw(rng)).Where(p => !train.Contains(p)).ToList();

Console.WriteLine($"before:     {Accuracy(parameters):P1} of {heldOut.Count} held-out \"twice N\" questions");

// 1. SFT on the new operation, mixed with the old ones so the model keeps them.
var old = ArithmeticTask.Sample(1500, seed: 8, ArithmeticSplit.Train, maxDigits: 3);
var sequences = new List<TrainingSequence>();
foreach (var (question, completion) in train.Select(p => (p.Question, p.Completion)).Concat(old.Select(p => (p.Question, p.Completion))))
{
    var prompt = Prompt(question);
    int[] answer = [.. tokenizer.Encode(completion), eos];
    var tokens = new int[160];
    var mask = new bool[160];
    Array.Fill(tokens, eos);
    if (prompt.Length + answer.Length > tokens.Length) continue;
    prompt.CopyTo(tokens, 0);
    answer.CopyTo(tokens, prompt.Length);
    for (var t = prompt.Length - 1; t < prompt.Length + answer.Length - 1; t++) mask[t] = true;
    sequences.Add(new TrainingSequence(tokens, mask));
}
var sft = new SftTrainer(parameters, 160, new SftOptions { LearningRate = 1e-3, MinLearningRate = 1e-4, WarmupSteps = 20, Steps = 200, BatchSize = 8, Shuffle = true, Seed = 7 }, source);
await sft.TrainAsync(sequences, new Progress<TrainingProgress>(p => { if (p.Step % 50 == 0) Console.WriteLine($"  sft {p.Step}/{p.Steps} loss {p.MainLoss:F4}"); }));
Console.WriteLine($"after SFT:  {Accuracy(parameters):P1}");

// 2. GRPO with a reward that is plain C#: the last number after </think> must be twice N.
var prompts = train.Take(400).ToList();
Func<RewardContext, double> exactDouble = c => c.Text is { } text && ArithmeticTask.FinalAnswer(text) == prompts[c.PromptIndex].Result ? 1.0 : 0.0;
using (var grpo = new GrpoTrainer(parameters, new GrpoOptions { GroupSize = 8, PromptsPerStep = 8, Steps = 10, LearningRate = 1e-5, MaxCompletionTokens = 160, Seed = 7, SampleableTokens = tokenizer.VocabSize },
    [exactDouble], () => new TokenizerTextDecoder(tokenizer, skipSpecialTokens: true)))
{
    await grpo.TrainAsync([.. prompts.Select(p => Prompt(p.Question))], new Progress<GrpoProgress>(p => Console.WriteLine($"  grpo {p.Step}/{p.Steps} reward {p.MeanReward:F3}")));
}
Console.WriteLine($"after GRPO: {Accuracy(parameters):P1}");
TrainedCheckpoint.Save(parameters, outDir, DType.F32, source);
Console.WriteLine($"saved {outDir}: chat with it using `deepseek chat --model {outDir} \"What is twice 4821?\"`");

int[] Prompt(string question) => ArithmeticEvaluator.Prompt(tokenizer, chat, question);

double Accuracy(ModelParameters<float> weights)
{
    var dir = Path.Combine(Path.GetTempPath(), "teach-" + Guid.NewGuid().ToString("N")[..8]);
    try
    {
        TrainedCheckpoint.Save(weights, dir, DType.F32, source);
        using var snapshot = Checkpoint.Open(dir);
        using var backend = new CpuBackend();
        var evaluator = ArithmeticEvaluator.Open(backend, WeightMap.Bind(snapshot), dir);
        var texts = evaluator.Complete([.. heldOut.Select(p => p.Question)]);
        return heldOut.Zip(texts).Count(x => ArithmeticTask.FinalAnswer(x.Second.Text) == x.First.Result) / (double)heldOut.Count;
    }
    finally
    {
        Directory.Delete(dir, recursive: true);
    }
}

/// <summary>The new operation: twice N, reasoned with the multiply-by-a-digit scratchpad the model already knows.</summary>
internal sealed record Twice(int N)
{
    public long Result => 2L * N;

    public string Question => $"What is twice {N}?";

    public string Completion => $"{new ArithmeticProblem(N, ArithmeticOperation.MultiplyByDigit, 2).Reasoning}</think>\n\ntwice {N} = {Result}";

    public static Twice Draw(Random rng) => new(rng.Next(1, 10_000));
}
