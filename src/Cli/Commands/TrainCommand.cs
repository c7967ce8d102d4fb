using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Tensors;
using DeepSeek.Runtime.Tokenization;
using DeepSeek.Runtime.Training;
using DeepSeek.Runtime.Training.Sft;

namespace DeepSeek.Cli.Commands;

/// <summary>
/// <c>deepseek train sft --model DIR --data FILE.jsonl --out DIR [--optimizer adamw|sgd] [--lr X] [--steps N] [--batch-size B]
/// [--seq-len T] [--grad-accum K] [--max-grad-norm X] [--bias-update-speed G] [--mtp-weight L] [--balance-loss-alpha A] [--recompute] [--save-dtype f32|bf16]
/// [--shuffle] [--seed S] [--parallel mpi|inproc [--ranks N] [--expert-parallel E | --pipeline-parallel P [--pipeline-schedule dualpipe|1f1b]]]</c>: supervised fine-tuning into a Hugging Face checkpoint, with a loss plot beside it.
/// </summary>
internal static class TrainCommand
{
    public static Command Create()
    {
        var train = new Command("train", "Fine-tune a model.");
        train.Subcommands.Add(Sft());
        train.Subcommands.Add(TrainGrpoCommand.Create());
        return train;
    }

    /// <summary><c>deepseek lora merge --model DIR --adapter DIR --out DIR [--save-dtype f32|bf16]</c>: fold PEFT LoRA adapters into a full checkpoint.</summary>
    public static Command Lora()
    {
        var model = new Option<DirectoryInfo>("--model", "-m") { Description = "Base checkpoint folder.", Required = true };
        var adapter = new Option<DirectoryInfo>("--adapter") { Description = "Folder with adapter_model.safetensors and adapter_config.json.", Required = true };
        var output = new Option<DirectoryInfo>("--out", "-o") { Description = "Folder for the merged checkpoint.", Required = true };
        var saveDtype = CliOptions.SaveDtype();
        var verbose = CliOptions.Verbose();
        var merge = new Command("merge", "Fold LoRA adapters into a full checkpoint.") { model, adapter, output, saveDtype, verbose };
        merge.SetAction(parse => CliErrors.Guard(parse.InvocationConfiguration.Error, parse.GetValue(verbose), () =>
        {
            var outDir = parse.GetRequiredValue(output).FullName;
            Runtime.Training.Lora.LoraAdapter.MergeCheckpoint(parse.GetRequiredValue(model).FullName, parse.GetRequiredValue(adapter).FullName, outDir,
                parse.GetValue(saveDtype));
            parse.InvocationConfiguration.Output.WriteLine($"merged into {outDir}");
            return 0;
        }));
        return new Command("lora", "LoRA adapters.") { merge };
    }

    private static Command Sft()
    {
        var model = new Option<DirectoryInfo>("--model", "-m") { Description = "Checkpoint folder to start from.", Required = true };
        var data = new Option<FileInfo>("--data") { Description = "JSONL: {\"tokens\":[…]}, {\"text\":…}, {\"prompt\":…,\"completion\":…} or {\"messages\":[…]} per line.", Required = true };
        var output = new Option<DirectoryInfo>("--out", "-o") { Description = "Folder for the trained checkpoint.", Required = true };
        var optimizer = CliOptions.Optimizer();
        var lr = new Option<double>("--lr") { Description = "Learning rate.", DefaultValueFactory = _ => 1e-4 };
        var warmup = new Option<int>("--warmup-steps") { Description = "Linear warm-up steps." };
        var steps = new Option<int>("--steps") { Description = "Optimizer steps.", DefaultValueFactory = _ => 100 };
        var batch = new Option<int>("--batch-size") { Description = "Sequences per micro-batch.", DefaultValueFactory = _ => 8 };
        var seqLen = new Option<int>("--seq-len") { Description = "Tokens per sequence (longer examples are cut, shorter padded and masked).", DefaultValueFactory = _ => 64 };
        var accum = new Option<int>("--grad-accum") { Description = "Micro-batches per step.", DefaultValueFactory = _ => 1 };
        var clip = new Option<double>("--max-grad-norm") { Description = "Global gradient-norm clip (0 = off).", DefaultValueFactory = _ => 1.0 };
        var biasSpeed = new Option<float>("--bias-update-speed") { Description = "γ of the aux-loss-free router-bias update (0 = off).", DefaultValueFactory = _ => 0.001f };
        var mtp = new Option<double>("--mtp-weight") { Description = "λ of the MTP loss (0 = off).", DefaultValueFactory = _ => 0.3 };
        var balanceAlpha = new Option<double>("--balance-loss-alpha") { Description = "α of the sequence-wise MoE balance loss (V3: 0.0001; 0 = off)." };
        var recompute = new Option<bool>("--recompute") { Description = "Recompute each block's activations before its backward instead of keeping them (less memory, more compute)." };
        var saveDtype = CliOptions.SaveDtype();
        var shuffle = new Option<bool>("--shuffle") { Description = "Seeded random order each epoch (default: file order)." };
        var seed = new Option<int>("--seed") { Description = "Seed of the shuffle and of the LoRA dropout masks.", DefaultValueFactory = _ => 1 };
        var saveEvery = new Option<int>("--save-every") { Description = "Write a resumable checkpoint to OUT/checkpoints every N steps (and after the last)." };
        var loraRank = new Option<int>("--lora-rank") { Description = "Train LoRA adapters of this rank instead of the full weights (0 = full fine-tune)." };
        var loraAlpha = new Option<double>("--lora-alpha") { Description = "LoRA α (the update is scaled by α/r); default 2·rank." };
        var loraDropout = new Option<double>("--lora-dropout") { Description = "Dropout probability on the LoRA adapters' input while training, in [0, 1) (PEFT's lora_dropout; never at inference)." };
        var loraTargets = new Option<string>("--lora-targets") { Description = "Comma-separated projections to adapt.", DefaultValueFactory = _ => "q_a_proj,q_b_proj,q_proj,kv_b_proj,o_proj" };
        var resume = new Option<bool>("--resume") { Description = "Continue from the newest checkpoint in OUT/checkpoints (same options and data)." };
        var verbose = CliOptions.Verbose();
        var parallel = TrainParallel.Mode();
        var ranks = TrainParallel.Ranks();
        var expertParallel = TrainParallel.ExpertParallel();
        var pipelineParallel = TrainParallel.PipelineParallel();
        var pipelineSchedule = TrainParallel.PipelineSchedule();
        var command = new Command("sft", "Supervised fine-tuning.")
        {
            model, data, output, optimizer, lr, warmup, steps, batch, seqLen, accum, clip, biasSpeed, mtp, balanceAlpha, recompute, saveDtype, shuffle, seed, saveEvery, loraRank, loraAlpha, loraDropout, loraTargets, resume, parallel, ranks, expertParallel, pipelineParallel, pipelineSchedule, verbose,
        };
        command.SetAction((parse, ct) => Task.FromResult(CliErrors.Guard(parse.InvocationConfiguration.Error, parse.GetValue(verbose), () =>
        {
            var o = parse.InvocationConfiguration.Output;
            var dir = parse.GetRequiredValue(model).FullName;
            using var checkpoint = Checkpoint.Open(dir);
            var baseWeights = WeightMap.Bind(checkpoint);   // stays mapped: LoRA reads W₀ from it at every merge
            var tokenizer = File.Exists(Path.Combine(dir, "tokenizer.json")) ? BpeTokenizer.FromDirectory(dir) : null;
            var chat = File.Exists(Path.Combine(dir, "tokenizer_config.json")) ? TryChatFormat(dir) : null;
            var length = parse.GetValue(seqLen);
            var examples = SftDataset.Load(parse.GetRequiredValue(data).FullName, length, tokenizer, chat, checkpoint.Config.EosTokenIds.FirstOrDefault());
            foreach (var e in examples)
                foreach (var id in e.Tokens)
                    if ((uint)id >= (uint)checkpoint.Config.VocabSize) throw new ArgumentException($"--data: token id {id} is outside the vocabulary [0, {checkpoint.Config.VocabSize})");

            var options = new SftOptions
            {
                Optimizer = parse.GetValue(optimizer),
                LearningRate = parse.GetValue(lr),
                WarmupSteps = parse.GetValue(warmup),
                Steps = parse.GetValue(steps),
                BatchSize = parse.GetValue(batch),
                GradientAccumulation = parse.GetValue(accum),
                MaxGradNorm = parse.GetValue(clip),
                BiasUpdateSpeed = parse.GetValue(biasSpeed),
                MtpWeight = parse.GetValue(mtp),
                BalanceLossAlpha = parse.GetValue(balanceAlpha),
                RecomputeActivations = parse.GetValue(recompute),
                Shuffle = parse.GetValue(shuffle),
                Seed = parse.GetValue(seed),
                CheckpointDirectory = Path.Combine(parse.GetRequiredValue(output).FullName, "checkpoints"),
                CheckpointEvery = parse.GetValue(saveEvery),
            };
            var mode = parse.GetRequiredValue(parallel);
            TrainParallel.CheckExpertParallel(mode, parse.GetValue(expertParallel), checkpoint.Config.NRoutedExperts);
            var pipeline = TrainParallel.CheckPipelineParallel(mode, parse.GetValue(pipelineParallel), parse.GetValue(pipelineSchedule), parse.GetValue(expertParallel));
            if (TrainParallel.IsSecondaryRank(mode)) o = TextWriter.Null;   // under mpirun only rank 0 prints and writes
            o.WriteLine($"training {checkpoint.Config.ModelType} on {examples.Count} examples × {length} tokens: {options.Steps} steps of {options.BatchSize}×{options.GradientAccumulation}, {options.Optimizer} lr {options.LearningRate.ToString(CultureInfo.InvariantCulture)}");
            var rank = parse.GetValue(loraRank);
            var dropout = parse.GetValue(loraDropout);
            if (!(dropout >= 0 && dropout < 1)) throw new ArgumentException($"--lora-dropout must be in [0, 1), not {dropout.ToString(CultureInfo.InvariantCulture)}");
            if (dropout > 0 && rank <= 0) throw new ArgumentException("--lora-dropout needs --lora-rank (it applies to LoRA adapters only)");
            var lora = rank <= 0 ? null : new Runtime.Training.Lora.LoraOptions
            {
                Rank = rank,
                Alpha = parse.GetValue(loraAlpha) is > 0 and var a ? a : 2.0 * rank,
                Dropout = dropout,
                TargetModules = parse.GetRequiredValue(loraTargets).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
            };
            string Describe(TrainingProgress p) => string.Create(CultureInfo.InvariantCulture,
                $"loss {p.Loss:F4} (main {p.MainLoss:F4}, mtp {p.MtpLoss:F4})  lr {p.LearningRate:G3}  |g| {p.GradNorm:F3}  {p.TokensPerSecond:F0} tok/s{(p.LoadImbalance > 0 ? $"  load max/mean {p.LoadImbalance:F2}" : "")}");
            ModelParameters<float> trained;
            IReadOnlyList<double> history;
            Runtime.Training.Lora.LoraAdapter? trainedLora = null;
            if (mode != "none")
            {
                if (lora is not null || parse.GetValue(resume)) throw new ArgumentException("--parallel: --lora-rank and --resume are single-process only for now");
                var result = pipeline is { } schedule
                    ? TrainParallel.TrainPipeline(mode, parse.GetValue(ranks), parse.GetValue(pipelineParallel), schedule, checkpoint.Config, () => ModelParameters<float>.Load(baseWeights), length, options, dir,
                        examples, train => TrainingProgressView.Run(o, "SFT", options.Steps, train), Describe, ct)
                    : TrainParallel.Train(mode, parse.GetValue(ranks), parse.GetValue(expertParallel), () => ModelParameters<float>.Load(baseWeights), length, options, dir, examples,
                        train => TrainingProgressView.Run(o, "SFT", options.Steps, train), Describe, ct);
                if (result is not { } r) return 0;   // another rank writes the output
                (trained, history) = r;
            }
            else
            {
                SftTrainer trainer;
                if (parse.GetValue(resume) && TrainingCheckpoint.Latest(options.CheckpointDirectory) is { } latest)
                {
                    trainer = SftTrainer.Resume(latest, length, options, dir);
                    if (TrainingCheckpoint.LoadAdapter(latest, checkpoint.Config) is { } adapter) trainer.WithLora(adapter, baseWeights);
                    o.WriteLine($"resuming from {latest} (step {trainer.CompletedSteps})");
                }
                else
                {
                    trainer = new SftTrainer(ModelParameters<float>.Load(baseWeights), length, options, dir);
                    if (lora is not null) trainer.WithLora(Runtime.Training.Lora.LoraAdapter.Create(checkpoint.Config, lora), baseWeights);
                }
                TrainingProgressView.Run(o, "SFT", options.Steps, report => trainer.Train(examples, new Progress(p => report(p.Step, Describe(p))), ct));
                (trained, history, trainedLora) = (trainer.Parameters, trainer.Losses, trainer.Lora);
            }

            var outDir = parse.GetRequiredValue(output).FullName;
            TrainedCheckpoint.Save(trained, outDir, parse.GetValue(saveDtype), dir, ct);
            trainedLora?.Save(Path.Combine(outDir, "adapter"), dir);   // PEFT files beside the merged checkpoint
            AtomicFile.WriteAllText(Path.Combine(outDir, "loss.svg"), LossPlot.Render(new Dictionary<string, IReadOnlyList<double>> { ["loss"] = history }, "SFT loss"));
            var log = new StringBuilder();
            for (var i = 0; i < history.Count; i++) log.AppendLine(JsonSerializer.Serialize(new { step = i + 1, loss = history[i] }));
            AtomicFile.WriteAllText(Path.Combine(outDir, "training_log.jsonl"), log.ToString());
            o.WriteLine($"saved {outDir} (loss.svg, training_log.jsonl)");
            TrainParallel.Finish(mode);
            return 0;
        })));
        return command;
    }

    private static IChatFormat? TryChatFormat(string dir)
    {
        try { return ChatFormats.FromTokenizerConfig(dir); }
        catch (ChatTemplateException) { return null; }   // only chat-shaped data needs it; SftDataset says so if it does
    }

    /// <summary>Synchronous progress: lines appear in step order on the caller's writer.</summary>
    private sealed class Progress(Action<TrainingProgress> report) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => report(value);
    }
}
