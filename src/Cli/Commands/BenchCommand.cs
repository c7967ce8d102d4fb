using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Compute;
using DeepSeek.Runtime.Compute.Cpu;
using DeepSeek.Runtime.Diagnostics;
using DeepSeek.Runtime.Evaluation;
using DeepSeek.Runtime.Generation;
using DeepSeek.Runtime.Hosting;
using DeepSeek.Runtime.Model;
using DeepSeek.Runtime.Tensors;
using DeepSeek.Runtime.Tokenization;

namespace DeepSeek.Cli.Commands;

/// <summary>
/// <c>deepseek bench [--model DIR] [--prompt-tokens 128] [--gen-tokens 32] [--batch 1] [--threads N] [--backend cpu|cuda] [--speculative none|mtp]
/// [--task random|arithmetic] [--problems P] [--runs R] [--seed S] [--probe-ms MS] [--json]</c>: prefill and decode tokens/s on
/// seeded random prompts (greedy, no EOS, every sequence exactly --gen-tokens long), or on the model's own arithmetic task:
/// --problems held-out questions rendered through its tokenizer and chat format, answered one batch after another until
/// EOS (at most --gen-tokens each; greedy, so plain and MTP runs produce the very same tokens), this
/// machine's measured bandwidth and FMA peak, and the fraction of the roofline reached (see README). With <c>--backend cuda</c>
/// the same generation runs on the GPU; the CPU probes are then left out (their fields are null): gpu-bench measures the GPU's.
/// </summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var model = new Option<DirectoryInfo>("--model", "-m") { Description = $"Checkpoint folder (default: the embedded {EmbeddedModel.Name})." };
        var promptTokens = new Option<int>("--prompt-tokens") { Description = "Prompt length per sequence.", DefaultValueFactory = _ => 128 };
        var genTokens = new Option<int>("--gen-tokens") { Description = "Tokens generated per sequence (at least 2).", DefaultValueFactory = _ => 32 };
        var batch = new Option<int>("--batch") { Description = "Sequences generated together.", DefaultValueFactory = _ => 1 };
        var threads = new Option<int>("--threads", "-t") { Description = "CPU threads (0 = all cores)." };
        var speculative = new Option<string>("--speculative") { Description = "none, or mtp: also time MTP speculative decoding and report acceptance and speedup.", DefaultValueFactory = _ => "none" };
        var task = new Option<string>("--task") { Description = "random: seeded random prompt token ids; arithmetic: ArithmeticTask questions in the model's chat format, answered until EOS (--prompt-tokens is then ignored; acceptance is measured on the model's task).", DefaultValueFactory = _ => "random" };
        var problems = new Option<int>("--problems") { Description = "With --task arithmetic: questions per timed run, answered --batch at a time, one batch after another.", DefaultValueFactory = _ => 16 };
        var runs = new Option<int>("--runs") { Description = "Timed runs after the warm-up; the best of them is reported.", DefaultValueFactory = _ => 1 };
        var seed = new Option<int>("--seed") { Description = "Seed of the random prompt tokens.", DefaultValueFactory = _ => 1 };
        var probeMs = new Option<int>("--probe-ms") { Description = "Duration of each machine probe (bandwidth, FMA peak) in ms.", DefaultValueFactory = _ => 1000 };
        var json = new Option<bool>("--json") { Description = "Print one JSON object." };
        var backendName = CliOptions.Backend();
        var verbose = CliOptions.Verbose();
        var command = new Command("bench", "Measure prefill and decode speed against this machine's bandwidth and FMA peak.")
        {
            model, promptTokens, genTokens, batch, threads, speculative, task, problems, runs, seed, probeMs, json, backendName, verbose,
        };
        command.SetAction((parse, ct) => Task.FromResult(CliErrors.Guard(parse.InvocationConfiguration.Error, parse.GetValue(verbose), () =>
        {
            var folder = parse.GetValue(model) ?? new DirectoryInfo(EmbeddedModel.GetPath());
            // Checked here rather than with AcceptOnlyFromAmong, whose message spans several lines.
            var mode = parse.GetValue(speculative);
            if (mode is not ("none" or "mtp")) throw new ArgumentException($"--speculative must be none or mtp (got '{mode}')");
            var taskName = parse.GetValue(task);
            if (taskName is not ("random" or "arithmetic")) throw new ArgumentException($"--task must be random or arithmetic (got '{taskName}')");
            var settings = new BenchSettings(parse.GetValue(promptTokens), parse.GetValue(genTokens), parse.GetValue(batch), parse.GetValue(threads),
                mode == "mtp", parse.GetValue(runs), parse.GetValue(seed), parse.GetValue(probeMs), taskName == "arithmetic", parse.GetValue(backendName) ?? "cpu",
                parse.GetValue(problems));
            settings.Validate();
            var report = Run(folder, settings, ct);
            var output = parse.InvocationConfiguration.Output;
            if (parse.GetValue(json)) output.WriteLine(JsonSerializer.Serialize(report));
            else
                foreach (var (key, value) in report)
                    output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{key,-26} {value}"));
            return 0;
        })));
        return command;
    }

    private sealed record BenchSettings(int PromptTokens, int GenTokens, int Batch, int Threads, bool Mtp, int Runs, int Seed, int ProbeMs, bool Arithmetic = false, string Backend = "cpu",
        int Problems = 16)
    {
        public void Validate()
        {
            if (PromptTokens < 1) throw new ArgumentException($"--prompt-tokens must be at least 1 (got {PromptTokens})");
            if (GenTokens < 2) throw new ArgumentException($"--gen-tokens must be at least 2, so that there is a decode step to time (got {GenTokens})");
            if (Batch < 1) throw new ArgumentException($"--batch must be at least 1 (got {Batch})");
            if (Threads < 0) throw new ArgumentException($"--threads must be 0 (all cores) or more (got {Threads})");
            if (Runs < 1) throw new ArgumentException($"--runs must be at least 1 (got {Runs})");
            if (ProbeMs < 1) throw new ArgumentException($"--probe-ms must be at least 1 (got {ProbeMs})");
            if (Problems < 1) throw new ArgumentException($"--problems must be at least 1 (got {Problems})");
        }
    }

    /// <summary>Rates of one timed generation: prompt tokens over the time to the first token, later tokens over the rest.</summary>
    /// <param name="PrefillRate">Prompt tokens per second of prefill.</param>
    /// <param name="DecodeRate">Decoded tokens per second.</param>
    /// <param name="Speculation">MTP drafts made and kept.</param>
    /// <param name="DecodeTokens">Tokens decoded (all but the first of each sequence).</param>
    /// <param name="FirstTokenMs">Time to the first token of the first batch: prefill plus, on a cold run, JIT compilation and page-in.</param>
    private readonly record struct Timing(double PrefillRate, double DecodeRate, SpeculationStats Speculation, int DecodeTokens = 0, double FirstTokenMs = 0);

    private static Dictionary<string, object?> Run(DirectoryInfo folder, BenchSettings s, CancellationToken ct)
    {
        using var checkpoint = Checkpoint.Open(folder.FullName);
        var weights = WeightMap.Bind(checkpoint);
        var config = checkpoint.Config;
        if (s.Mtp && config.NumNextNPredictLayers == 0)
            throw new ArgumentException("--speculative mtp: the model has no MTP layer (num_nextn_predict_layers = 0)");

        using var backend = ComputeBackends.Create(s.Backend, s.Threads);
        var cpu = backend as CpuBackend;
        var prompts = s.Arithmetic ? ArithmeticPrompts(folder, s) : RandomPrompts(config.VocabSize, s);
        var longest = prompts.Max(p => p.Length);
        var context = longest + s.GenTokens;
        if (context > config.MaxPositionEmbeddings)
            throw new ContextLengthException(s.Arithmetic
                ? $"arithmetic prompts of up to {longest} tokens plus --gen-tokens {s.GenTokens} exceeds the model's {config.MaxPositionEmbeddings} positions"
                : $"--prompt-tokens {s.PromptTokens} plus --gen-tokens {s.GenTokens} exceeds the model's {config.MaxPositionEmbeddings} positions", context, config.MaxPositionEmbeddings);

        var transformer = new Transformer(backend, weights, context, MlaMode.Absorbed);
        var options = SamplingOptions.Greedy with { MaxTokens = s.GenTokens };
        // Random prompts: no EOS, every sequence generates exactly --gen-tokens, so runs are comparable. Arithmetic: answers
        // end at EOS as in use (past it a model generates text it was never trained on, where drafts say little); greedy
        // decoding makes plain and speculative runs produce the same tokens, so they stay comparable.
        var requests = prompts.Select(p => new GenerationRequest(p, options)).Chunk(s.Batch).ToArray();
        int[]? eos = s.Arithmetic ? null : [];
        var plain = new Generator(transformer, eosTokenIds: eos, contextLength: context, speculative: SpeculativeDecoding.None);
        var mtp = s.Mtp ? new Generator(transformer, eosTokenIds: eos, contextLength: context, speculative: SpeculativeDecoding.Mtp) : null;

        var probe = TimeSpan.FromMilliseconds(s.ProbeMs);
        var cost = ModelCost.For(checkpoint);
        var bytesPerStep = cost.DecodeBytesPerStep(s.Batch);
        var cold = Time(plain, requests, ct);            // warm-up (JIT, page-in of the mapped weights)
        if (mtp is not null) Time(mtp, requests, ct);
        Timing best = default, bestMtp = default;
        // Decode's bound is how fast these very bytes stream from where they lie (the page cache, 4 KiB pages). This VM
        // class reads memory anywhere from ~26 to ~50 GB/s from one second to the next, so each timed run is bracketed by
        // its own probes and its fraction taken against their mean (the probes measure this CPU: none for another
        // backend's device); the reported figures are the fastest run's.
        var runBandwidths = new List<double>();
        var runFractions = new List<double>();
        double? bandwidth = null;
        for (var r = 0; r < s.Runs; r++)
        {
            var before = cpu is null ? 0 : MachineLimits.MeasureMappedBandwidthGBs(checkpoint, cpu.Threads, probe);
            var t = Time(plain, requests, ct);
            if (cpu is not null)
            {
                var around = (before + MachineLimits.MeasureMappedBandwidthGBs(checkpoint, cpu.Threads, probe)) / 2;
                runBandwidths.Add(Round(around));
                runFractions.Add(Round(bytesPerStep * (t.DecodeRate / s.Batch) / (around * 1e9), 4));
                if (t.DecodeRate > best.DecodeRate) bandwidth = around;
            }
            best = new Timing(Math.Max(best.PrefillRate, t.PrefillRate), Math.Max(best.DecodeRate, t.DecodeRate), default, t.DecodeTokens,
                r == 0 ? t.FirstTokenMs : Math.Min(best.FirstTokenMs, t.FirstTokenMs));
            if (mtp is null) continue;
            var m = Time(mtp, requests, ct);
            bestMtp = m.DecodeRate > bestMtp.DecodeRate ? m : bestMtp;
        }

        MachineLimits? limits = cpu is null ? null : MachineLimits.Measure(cpu.Threads, probe);
        // The arithmetic peak of the instruction mix prefill runs: BF16 and FP8 decoder weights on the native GEMMs do
        // vdpbf16ps (two multiply-adds per fp32 lane), everything else fp32 FMAs.
        var bf16Dot = cpu is { NativeKernelsActive: true } && MostlyNativeGemm(checkpoint, cpu.NativeFp8Active);
        var peak = bf16Dot ? MachineLimits.MeasureBf16DotPeakGflops(cpu!.Threads, probe) : limits?.PeakGflops;
        var prefillFlops = cost.PrefillFlopsPerToken(s.PromptTokens);
        var report = new Dictionary<string, object?>
        {
            ["model"] = folder.ToString(),   // as given on the command line
            ["backend"] = backend.Name,
            ["threads"] = cpu?.Threads,
            ["batch"] = s.Batch,
            ["prompt_tokens"] = s.Arithmetic ? (int)Math.Round(prompts.Average(p => p.Length)) : s.PromptTokens,
            ["gen_tokens"] = s.GenTokens,
            ["decode_tokens"] = best.DecodeTokens,
            // The first generation after load against the best later one: what JIT compilation and page-in add to the
            // first answer (kernels are AggressiveOptimization and the CLI turns off quick JIT for loops to keep it small).
            ["cold_time_to_first_token_ms"] = Round(cold.FirstTokenMs),
            ["time_to_first_token_ms"] = Round(best.FirstTokenMs),
            ["prefill_tokens_per_s"] = Round(best.PrefillRate),
            ["decode_tokens_per_s"] = Round(best.DecodeRate),
            ["bandwidth_gbs"] = bandwidth is { } gbs ? Round(gbs) : null,
            ["bandwidth_probe"] = bandwidth is null ? null : "mapped checkpoint weights, before and after each run",
            ["bandwidth_gbs_runs"] = cpu is null ? null : runBandwidths,
            ["buffer_bandwidth_gbs"] = limits is null ? null : Round(limits.BandwidthGBs),
            ["peak_gflops"] = peak is { } p ? Round(p) : null,
            ["peak_kind"] = peak is null ? null : bf16Dot ? "bf16-dot (vdpbf16ps)" : "fp32-fma",
            ["fp32_peak_gflops"] = limits is null ? null : Round(limits.PeakGflops),
            ["vector_bits"] = limits?.VectorBits,
            ["bytes_per_token"] = Math.Round(cost.DecodeBytesPerToken),
            ["bytes_per_step"] = Math.Round(bytesPerStep),
            ["flops_per_token"] = Math.Round(prefillFlops),
            // Steps per second × bytes per step (= tok/s × bytes/token at batch 1) over what memory delivered around that run.
            ["decode_roofline_fraction"] = bandwidth is { } bw ? Round(bytesPerStep * (best.DecodeRate / s.Batch) / (bw * 1e9), 4) : null,
            ["decode_roofline_fraction_runs"] = cpu is null ? null : runFractions,
            ["decode_roofline_fraction_median"] = runFractions.Count == 0 ? null : Round(Median(runFractions), 4),
            ["prefill_roofline_fraction"] = peak is { } pk ? Round(prefillFlops * best.PrefillRate / (pk * 1e9), 4) : null,
        };
        if (mtp is not null)
        {
            report["mtp_decode_tokens_per_s"] = Round(bestMtp.DecodeRate);
            report["mtp_drafted_tokens"] = bestMtp.Speculation.Drafted;
            report["mtp_accepted_tokens"] = bestMtp.Speculation.Accepted;
            report["mtp_acceptance_rate"] = Round(bestMtp.Speculation.AcceptanceRate, 4);
            report["speedup"] = Round(bestMtp.DecodeRate / best.DecodeRate, 3);
            // What a speculative step costs against a plain one: an accepted draft saves a step, so the MTP run took
            // (decode tokens − accepted) steps per sequence. With every draft kept a step yields two tokens, so
            // 2 ÷ this ratio bounds the speedup. Speculation only pays where a step's cost is mostly fixed (weights
            // streamed from memory); where it is compute (weights resident in cache), each extra row costs nearly full price.
            var steps = bestMtp.DecodeTokens - bestMtp.Speculation.Accepted;
            if (steps > 0 && bestMtp.DecodeRate > 0)
            {
                var ratio = best.DecodeRate / (bestMtp.DecodeRate * steps / bestMtp.DecodeTokens);
                report["mtp_step_cost_ratio"] = Round(ratio, 3);
                report["mtp_speedup_at_full_acceptance"] = Round(2 / ratio, 3);
            }
        }
        return report;
    }

    /// <summary>True when most elements of the decoder layers' matrices are stored as BF16, or as FP8 the native GEMM takes.</summary>
    private static bool MostlyNativeGemm(Checkpoint checkpoint, bool fp8)
    {
        var matrices = checkpoint.Tensors.Where(t => t.Shape.Rank == 2 && t.Name.Contains(".layers.", StringComparison.Ordinal)).ToList();
        var native = matrices.Where(t => t.DType == DType.BF16 || (fp8 && t.DType == DType.F8_E4M3)).Sum(t => t.Shape.ElementCount);
        return native * 2 > matrices.Sum(t => t.Shape.ElementCount);
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        var mid = sorted.Count / 2;
        return sorted.Count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }

    /// <summary>--batch prompts of --prompt-tokens seeded random token ids.</summary>
    private static int[][] RandomPrompts(int vocab, BenchSettings s)
    {
        var rng = new Random(s.Seed);
        return [.. Enumerable.Range(0, s.Batch).Select(_ => Enumerable.Range(0, s.PromptTokens).Select(_ => rng.Next(vocab)).ToArray())];
    }

    /// <summary>--problems seeded arithmetic questions (held-out split), each rendered as a chat user's question is.</summary>
    private static int[][] ArithmeticPrompts(DirectoryInfo folder, BenchSettings s)
    {
        var dir = folder.FullName;
        var (tokenizer, chat) = (BpeTokenizer.FromDirectory(dir), ChatFormats.FromTokenizerConfig(dir));
        var problems = ArithmeticTask.Sample(s.Problems, s.Seed, ArithmeticSplit.HeldOut, maxDigits: 4);
        return [.. problems.Select(p => ArithmeticEvaluator.Prompt(tokenizer, chat, p.Question))];
    }

    /// <summary>
    /// Runs the batches one after another. Prefill time is each batch's time to its first token; decode time the rest of
    /// it, and its tokens every one after the first of each sequence.
    /// </summary>
    private static Timing Time(Generator generator, GenerationRequest[][] batches, CancellationToken ct)
    {
        TimeSpan prefill = default, decode = default, firstToken = default;
        int promptTokens = 0, decodeTokens = 0;
        var stats = default(SpeculationStats);
        foreach (var requests in batches)
        {
            var clock = Stopwatch.StartNew();
            TimeSpan first = default;
            var tokens = 0;
            foreach (var t in generator.Generate(requests, cancellationToken: ct))
            {
                if (tokens++ == 0) first = clock.Elapsed;
                if (t.Finish is not null) stats += t.Speculation;
            }
            if (promptTokens == 0) firstToken = first;
            prefill += first;
            decode += clock.Elapsed - first;
            promptTokens += requests.Sum(r => r.Prompt.Count);
            // The prefill step yields one token per sequence; every later token is decode.
            decodeTokens += tokens - requests.Length;
        }
        return new Timing(promptTokens / Math.Max(prefill.TotalSeconds, 1e-9), decodeTokens / Math.Max(decode.TotalSeconds, 1e-9), stats, decodeTokens,
            firstToken.TotalMilliseconds);
    }

    private static double Round(double value, int digits = 2) => double.IsFinite(value) ? Math.Round(value, digits) : 0;
}
