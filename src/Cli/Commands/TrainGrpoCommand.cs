using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Generation;
using DeepSeek.Runtime.Tensors;
using DeepSeek.Runtime.Tokenization;
using DeepSeek.Runtime.Training;
using DeepSeek.Runtime.Training.Grpo;
using DeepSeek.Runtime.Training.Sft;

namespace DeepSeek.Cli.Commands;

/// <summary>
/// <c>deepseek train grpo --model DIR --prompts FILE.jsonl --out DIR --reward exact-number,think-format [--group-size G]
/// [--prompts-per-step P] [--max-completion-tokens N] [--temperature T] [--clip-epsilon E] [--kl-beta B] [--epochs M]
/// [--steps N] [--lr X] [--optimizer adamw|sgd] [--max-grad-norm X] [--save-dtype f32|bf16] [--seed S]</c>:
/// DeepSeek-R1-style reinforcement learning with rule rewards. Prompt lines: <c>{"prompt": "...", "answer": "..."}</c>
/// (rendered as a user turn with the chat template's generation prompt) or <c>{"tokens": [...], "answer": "..."}</c>.
/// </summary>
internal static class TrainGrpoCommand
{
    private static readonly string[] KnownRewards = ["exact-number", "think-format", "length-penalty"];

    public static Command Create()
    {
        var model = new Option<DirectoryInfo>("--model", "-m") { Description = "Checkpoint folder (policy and frozen reference).", Required = true };
        var prompts = new Option<FileInfo>("--prompts") { Description = "JSONL of {\"prompt\"|\"tokens\", \"answer\"}.", Required = true };
        var output = new Option<DirectoryInfo>("--out", "-o") { Description = "Folder for the trained checkpoint.", Required = true };
        var reward = new Option<string>("--reward") { Description = $"Comma-separated rule rewards, summed: {string.Join(", ", KnownRewards)}.", DefaultValueFactory = _ => "exact-number,think-format" };
        var group = new Option<int>("--group-size") { Description = "Completions per prompt (R1: 16).", DefaultValueFactory = _ => 8 };
        var perStep = new Option<int>("--prompts-per-step") { Description = "Prompts per step.", DefaultValueFactory = _ => 4 };
        var maxTokens = new Option<int>("--max-completion-tokens") { Description = "Tokens per completion.", DefaultValueFactory = _ => 64 };
        var temperature = new Option<double>("--temperature") { Description = "Sampling temperature of the rollouts.", DefaultValueFactory = _ => 1.0 };
        var epsilon = new Option<double>("--clip-epsilon") { Description = "ε of the clipped ratio.", DefaultValueFactory = _ => 0.2 };
        var beta = new Option<double>("--kl-beta") { Description = "β of the KL penalty to the reference (R1: 0.001).", DefaultValueFactory = _ => 0.001 };
        var epochs = new Option<int>("--epochs") { Description = "Optimisation epochs per batch of rollouts.", DefaultValueFactory = _ => 1 };
        var steps = new Option<int>("--steps") { Description = "Steps.", DefaultValueFactory = _ => 100 };
        var lr = new Option<double>("--lr") { Description = "Learning rate.", DefaultValueFactory = _ => 1e-6 };
        var optimizer = CliOptions.Optimizer();
        var clip = new Option<double>("--max-grad-norm") { Description = "Global gradient-norm clip (0 = off).", DefaultValueFactory = _ => 1.0 };
        var saveDtype = CliOptions.SaveDtype();
        var seed = new Option<int>("--seed") { Description = "Seed of sampling and prompt order.", DefaultValueFactory = _ => 1 };
        var saveEvery = new Option<int>("--save-every") { Description = "Write a resumable checkpoint to OUT/checkpoints every N steps (and after the last)." };
        var resume = new Option<bool>("--resume") { Description = "Continue from the newest checkpoint in OUT/checkpoints (same options, rewards and prompts)." };
        var verbose = CliOptions.Verbose();
        var command = new Command("grpo", "Reinforcement learning with group-relative advantages and rule rewards (DeepSeek-R1).")
        {
            model, prompts, output, reward, group, perStep, maxTokens, temperature, epsilon, beta, epochs, steps, lr, optimizer, clip, saveDtype, seed, saveEvery, resume, verbose,
        };
        command.SetAction((parse, ct) => Task.FromResult(CliErrors.Guard(parse.InvocationConfiguration.Error, parse.GetValue(verbose), () =>
        {
            var o = parse.InvocationConfiguration.Output;
            var dir = parse.GetRequiredValue(model).FullName;
            using var checkpoint = Checkpoint.Open(dir);
            var tokenizer = File.Exists(Path.Combine(dir, "tokenizer.json")) ? BpeTokenizer.FromDirectory(dir) : null;
            var (ids, answers) = ReadPrompts(parse.GetRequiredValue(prompts).FullName, tokenizer, dir, checkpoint.Config.VocabSize);
            var rewards = Rewards(parse.GetRequiredValue(reward), answers, ids, parse.GetValue(maxTokens), tokenizer);

            var options = new GrpoOptions
            {
                GroupSize = parse.GetValue(group),
                PromptsPerStep = parse.GetValue(perStep),
                MaxCompletionTokens = parse.GetValue(maxTokens),
                Temperature = parse.GetValue(temperature),
                ClipEpsilon = parse.GetValue(epsilon),
                KlBeta = parse.GetValue(beta),
                Epochs = parse.GetValue(epochs),
                Steps = parse.GetValue(steps),
                LearningRate = parse.GetValue(lr),
                Optimizer = parse.GetValue(optimizer),
                MaxGradNorm = parse.GetValue(clip),
                Seed = parse.GetValue(seed),
                SampleableTokens = tokenizer?.VocabSize,
                CheckpointDirectory = Path.Combine(parse.GetRequiredValue(output).FullName, "checkpoints"),
                CheckpointEvery = parse.GetValue(saveEvery),
            };
            o.WriteLine($"GRPO on {ids.Count} prompts: {options.Steps} steps of {options.PromptsPerStep} prompts × {options.GroupSize} completions, rewards {parse.GetRequiredValue(reward)}");
            Func<ITokenTextDecoder>? decoder = tokenizer is null ? null : () => new TokenizerTextDecoder(tokenizer, skipSpecialTokens: true);
            var latest = parse.GetValue(resume) ? TrainingCheckpoint.Latest(options.CheckpointDirectory) : null;
            using var trainer = latest is null ? new GrpoTrainer(ModelParameters<float>.Load(WeightMap.Bind(checkpoint)), options, rewards, decoder) : GrpoTrainer.Resume(latest, options, rewards, decoder);
            if (latest is not null) o.WriteLine($"resuming from {latest} (step {trainer.CompletedSteps})");
            var history = TrainingProgressView.Run(o, "GRPO", options.Steps, report => trainer.Train(ids, new ProgressLines(p => report(p.Step, string.Create(CultureInfo.InvariantCulture,
                $"reward {p.MeanReward:F3} ± {p.RewardStd:F3}  kl {p.Kl:F4}  clip {p.ClipFraction:P0}  length {p.MeanCompletionLength:F1}  |g| {p.GradNorm:F3}"))), ct));

            var outDir = parse.GetRequiredValue(output).FullName;
            TrainedCheckpoint.Save(trainer.Parameters, outDir, parse.GetValue(saveDtype), dir, ct);
            AtomicFile.WriteAllText(Path.Combine(outDir, "reward.svg"), LossPlot.Render(new Dictionary<string, IReadOnlyList<double>>
            {
                ["mean reward"] = history.Select(h => h.MeanReward).ToList(),
                ["kl"] = history.Select(h => h.Kl).ToList(),
            }, "GRPO"));
            var log = new StringBuilder();
            foreach (var h in history) log.AppendLine(JsonSerializer.Serialize(new { step = h.Step, reward = h.MeanReward, reward_std = h.RewardStd, kl = h.Kl, clip_fraction = h.ClipFraction, completion_length = h.MeanCompletionLength }));
            AtomicFile.WriteAllText(Path.Combine(outDir, "training_log.jsonl"), log.ToString());
            o.WriteLine($"saved {outDir} (reward.svg, training_log.jsonl)");
            return 0;
        })));
        return command;
    }

    private static (List<int[]> Ids, List<string?> Answers) ReadPrompts(string path, BpeTokenizer? tokenizer, string dir, int vocab)
    {
        var chat = tokenizer is null ? null : ChatFormatOrNull(dir);
        var ids = new List<int[]>();
        var answers = new List<string?>();
        var n = 0;
        foreach (var line in File.ReadLines(path))
        {
            n++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            try
            {
                using var doc = JsonDocument.Parse(line);
                var e = doc.RootElement;
                int[] prompt;
                if (e.TryGetProperty("tokens", out var t)) prompt = t.EnumerateArray().Select(x => x.GetInt32()).ToArray();
                else if (e.TryGetProperty("prompt", out var p) && p.ValueKind == JsonValueKind.String)
                {
                    var tok = tokenizer ?? throw new TrainingDataException("text prompts need the model's tokenizer.json");
                    var text = chat is null ? p.GetString()! : chat.Render([ChatMessage.User(p.GetString()!)], new ChatRenderOptions { AddGenerationPrompt = true });
                    prompt = [.. tok.Encode(text, addSpecialTokens: chat is null)];
                }
                else throw new TrainingDataException("expected \"prompt\" (text) or \"tokens\"");
                if (prompt.Length == 0 || prompt.Any(id => (uint)id >= (uint)vocab)) throw new TrainingDataException($"prompt ids must be non-empty and inside the vocabulary [0, {vocab})");
                ids.Add(prompt);
                answers.Add(e.TryGetProperty("answer", out var a) ? a.ToString() : null);
            }
            catch (Exception ex) when (ex is JsonException or TrainingDataException or InvalidOperationException or FormatException)
            {
                throw new TrainingDataException($"{path}:{n}: {ex.Message}", ex);
            }
        }
        if (ids.Count == 0) throw new TrainingDataException($"{path}: no prompts");
        return (ids, answers);
    }

    private static List<Func<RewardContext, double>> Rewards(string names, List<string?> answers, List<int[]> prompts, int maxTokens, BpeTokenizer? tokenizer)
    {
        var list = new List<Func<RewardContext, double>>();
        foreach (var name in names.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            switch (name)
            {
                case "exact-number":
                    if (tokenizer is null) throw new ArgumentException("--reward exact-number compares text: the model folder needs tokenizer.json");
                    if (answers.Any(a => a is null)) throw new ArgumentException("--reward exact-number needs an \"answer\" on every prompt line");
                    var byPrompt = new Dictionary<string, string>();
                    for (var i = 0; i < prompts.Count; i++) byPrompt.TryAdd(string.Join(',', prompts[i]), answers[i]!);
                    list.Add(Runtime.Training.Grpo.Rewards.ExactNumber(p => byPrompt[string.Join(',', p)]));
                    break;
                case "think-format":
                    if (tokenizer is null) throw new ArgumentException("--reward think-format reads text: the model folder needs tokenizer.json");
                    list.Add(Runtime.Training.Grpo.Rewards.ThinkFormat());
                    break;
                case "length-penalty":
                    list.Add(Runtime.Training.Grpo.Rewards.LengthPenalty(maxTokens));
                    break;
                default:
                    throw new ArgumentException($"--reward: unknown reward '{name}'; known: {string.Join(", ", KnownRewards)}");
            }
        }
        if (list.Count == 0) throw new ArgumentException("--reward: no reward given");
        return list;
    }

    private static IChatFormat? ChatFormatOrNull(string dir)
    {
        try { return File.Exists(Path.Combine(dir, "tokenizer_config.json")) ? ChatFormats.FromTokenizerConfig(dir) : null; }
        catch (ChatTemplateException) { return null; }
    }

    private sealed class ProgressLines(Action<GrpoProgress> report) : IProgress<GrpoProgress>
    {
        public void Report(GrpoProgress value) => report(value);
    }
}
