using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Compute.Cpu;
using DeepSeek.Runtime.Evaluation;
using DeepSeek.Runtime.Hosting;

namespace DeepSeek.Cli.Commands;

/// <summary>
/// <c>deepseek eval [--model DIR] --task arithmetic [--n N] [--seed S] [--max-digits D] [--split held-out|train] [--json]</c>:
/// exact-answer accuracy, format accuracy and mean completion length of greedy answers through the model's chat template.
/// Without <c>--model</c> it evaluates the embedded model.
/// </summary>
internal static class EvalCommand
{
    public static Command Create()
    {
        var model = new Option<DirectoryInfo>("--model", "-m") { Description = $"Checkpoint folder (default: the embedded {EmbeddedModel.Name})." };
        var task = new Option<string>("--task") { Description = $"Task to evaluate: {ArithmeticTask.Name}.", Required = true };
        var count = new Option<int>("--n") { Description = "Problems to evaluate.", DefaultValueFactory = _ => 1000 };
        var seed = new Option<int>("--seed") { Description = "Seed of the problem sample.", DefaultValueFactory = _ => 20261122 };
        var digits = new Option<int>("--max-digits") { Description = "Longest operand, in digits (the embedded model trained SFT on ≤ 3, GRPO on ≤ 4).", DefaultValueFactory = _ => 4 };
        var split = new Option<string>("--split") { Description = "held-out (never trained on) or train.", DefaultValueFactory = _ => "held-out" };
        var threads = new Option<int>("--threads") { Description = "CPU threads (0 = all cores)." };
        var json = new Option<bool>("--json") { Description = "Print the result as JSON." };
        var verbose = CliOptions.Verbose();
        var command = new Command("eval", "Measure a model's accuracy on a verifiable task.") { model, task, count, seed, digits, split, threads, json, verbose };
        command.SetAction((parse, ct) => Task.FromResult(CliErrors.Guard(parse.InvocationConfiguration.Error, parse.GetValue(verbose), () =>
        {
            var o = parse.InvocationConfiguration.Output;
            if (parse.GetRequiredValue(task) != ArithmeticTask.Name)
                throw new ArgumentException($"unknown --task '{parse.GetRequiredValue(task)}'; known: {ArithmeticTask.Name}");
            var which = parse.GetValue(split) switch
            {
                "held-out" => ArithmeticSplit.HeldOut,
                "train" => ArithmeticSplit.Train,
                var s => throw new ArgumentException($"--split must be held-out or train, got '{s}'"),
            };
            var n = parse.GetValue(count);
            if (n < 1) throw new ArgumentException($"--n must be ≥ 1, got {n}");
            var maxDigits = parse.GetValue(digits);
            if (maxDigits is < 1 or > 15) throw new ArgumentException($"--max-digits must be in [1, 15], got {maxDigits}");
            if (parse.GetValue(threads) < 0) throw new ArgumentException($"--threads must be ≥ 0, got {parse.GetValue(threads)}");

            var dir = parse.GetValue(model)?.FullName ?? EmbeddedModel.GetPath();
            using var checkpoint = Checkpoint.Open(dir);
            using var backend = new CpuBackend(parse.GetValue(threads));
            var evaluator = ArithmeticEvaluator.Open(backend, WeightMap.Bind(checkpoint), dir);
            var problems = ArithmeticTask.Sample(n, parse.GetValue(seed), which, maxDigits);
            var r = evaluator.Evaluate(problems, cancellationToken: ct);
            // Expert load over the reference solutions (teacher-forced): where the router sends this task's tokens.
            var load = checkpoint.Config.IsMoe
                ? ExpertLoad.Measure(evaluator.Model, problems.Take(200).Select(p => evaluator.Prompt(p.Question).Concat(evaluator.Tokenizer.Encode(p.Completion)).ToArray()), ct)
                : null;

            if (parse.GetValue(json))
            {
                o.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
                {
                    ["model"] = dir,
                    ["task"] = ArithmeticTask.Name,
                    ["split"] = parse.GetValue(split)!,
                    ["n"] = r.Problems,
                    ["seed"] = parse.GetValue(seed),
                    ["accuracy"] = r.Accuracy,
                    ["format_accuracy"] = r.FormatAccuracy,
                    ["mean_length"] = r.MeanLength,
                    ["accuracy_by_digits"] = r.ByLength.ToDictionary(kv => kv.Key.ToString(CultureInfo.InvariantCulture), kv => kv.Value),
                    ["accuracy_by_operation"] = r.ByOperation.ToDictionary(kv => Name(kv.Key), kv => kv.Value),
                    ["mtp_acceptance_rate"] = r.Speculation.AcceptanceRate,
                    ["mtp_drafted_tokens"] = r.Speculation.Drafted,
                    ["expert_imbalance"] = load?.Imbalance ?? 0,
                    ["expert_load"] = load?.Fractions.ToDictionary(kv => kv.Key.ToString(CultureInfo.InvariantCulture), kv => kv.Value) ?? [],
                }));
                return 0;
            }
            o.WriteLine($"model            {dir}");
            o.WriteLine(string.Create(CultureInfo.InvariantCulture, $"task             {ArithmeticTask.Name}, {r.Problems} {parse.GetValue(split)} problems (≤ {maxDigits} digits, seed {parse.GetValue(seed)})"));
            o.WriteLine(string.Create(CultureInfo.InvariantCulture, $"accuracy         {r.Accuracy:P1}"));
            o.WriteLine(string.Create(CultureInfo.InvariantCulture, $"format accuracy  {r.FormatAccuracy:P1}"));
            o.WriteLine(string.Create(CultureInfo.InvariantCulture, $"mean length      {r.MeanLength:F1} tokens"));
            o.WriteLine(string.Create(CultureInfo.InvariantCulture, $"by digits        {string.Join("  ", r.ByLength.Select(kv => $"{kv.Key}: {kv.Value:P1}"))}"));
            o.WriteLine(string.Create(CultureInfo.InvariantCulture, $"by operation     {string.Join("  ", r.ByOperation.Select(kv => $"{Name(kv.Key)}: {kv.Value:P1}"))}"));
            if (r.Speculation.Drafted > 0)
                o.WriteLine(string.Create(CultureInfo.InvariantCulture, $"mtp acceptance   {r.Speculation.AcceptanceRate:P1} of {r.Speculation.Drafted} drafts (greedy, MTP speculative decoding)"));
            if (load is not null)
            {
                o.WriteLine(string.Create(CultureInfo.InvariantCulture, $"expert load      max/mean {load.Imbalance:F2} (1 = balanced, {checkpoint.Config.NRoutedExperts / (double)checkpoint.Config.NumExpertsPerTok:F0} = collapsed)"));
                foreach (var (layer, f) in load.Fractions)
                    o.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  layer {layer,-3}       {string.Join(" ", f.Select(x => $"{x:P0}".PadLeft(4)))}"));
            }
            return 0;
        })));
        return command;
    }

    private static string Name(ArithmeticOperation op) => op switch
    {
        ArithmeticOperation.Add => "add",
        ArithmeticOperation.Subtract => "subtract",
        _ => "multiply",
    };
}
