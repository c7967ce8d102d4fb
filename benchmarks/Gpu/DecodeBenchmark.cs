using System.Diagnostics;
using DeepSeek.Interop.Gpu;
using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Diagnostics;
using DeepSeek.Runtime.Generation;
using DeepSeek.Runtime.Model;
using DeepSeek.Runtime.Tensors;

namespace DeepSeek.Benchmarks.Gpu;

/// <summary>
/// End-to-end greedy generation on the GPU backend, timed as <c>deepseek bench</c> times it: prefill = prompt tokens ÷
/// time to the first token, decode = later tokens ÷ the rest (wall clock; one warm-up run first, which also uploads the
/// weights). The model is a random-weight checkpoint synthesised from a config (default: DeepSeek-V2-Lite's shapes),
/// or an existing one.
/// </summary>
internal sealed class DecodeBenchmark(CudaBackend gpu, BenchmarkOptions options, TextWriter log)
{
    /// <summary>Written into the checkpoint folder once synthesis has finished.</summary>
    public const string CompleteMarker = ".synth-complete";

    public Dictionary<string, object?> Run(CancellationToken ct = default)
    {
        string? temporary = null;
        var folder = options.E2eModel;
        var synthSeconds = 0.0;
        try
        {
            if (folder is null)
            {
                var configPath = options.E2eConfig ?? Path.Combine(AppContext.BaseDirectory, "v2-lite-config.json");
                var config = ModelConfig.Load(configPath);
                if (options.E2eLayers > 0) config = config with { NumHiddenLayers = options.E2eLayers };
                config.Validate();
                folder = options.E2eDir ?? (temporary = Path.Combine(Path.GetTempPath(), $"gpu-bench-e2e-{Environment.ProcessId}"));
                log.WriteLine($"e2e: synthesising a {config.NumHiddenLayers}-layer {options.E2eDType} checkpoint from {configPath} into {folder} …");
                var clock = Stopwatch.StartNew();
                SyntheticCheckpoint.Write(config, folder, new SyntheticCheckpointOptions
                {
                    WeightDType = options.E2eDType == "fp8" ? DType.F8_E4M3 : DType.BF16,
                }, ct);
                synthSeconds = clock.Elapsed.TotalSeconds;
                // run-on-gpu.sh reuses a kept checkpoint only when this marker says it was written to the end.
                File.WriteAllText(Path.Combine(folder, CompleteMarker), $"{synthSeconds:F1} s\n");
            }

            using var checkpoint = Checkpoint.Open(folder);
            var weights = WeightMap.Bind(checkpoint);
            var cfg = checkpoint.Config;
            var context = options.PromptTokens + options.GenTokens;
            var transformer = new Transformer(gpu, weights, context, MlaMode.Absorbed);
            var generator = new Generator(transformer, eosTokenIds: [], contextLength: context, speculative: SpeculativeDecoding.None);
            var rng = new Random(1);
            var prompt = Enumerable.Range(0, options.PromptTokens).Select(_ => rng.Next(cfg.VocabSize)).ToArray();
            var request = new[] { new GenerationRequest(prompt, SamplingOptions.Greedy with { MaxTokens = options.GenTokens }) };

            var warm = Stopwatch.StartNew();
            Time(generator, request, ct);   // uploads every weight a token touches, JITs the modules
            var warmSeconds = warm.Elapsed.TotalSeconds;
            var best = (Prefill: 0.0, Decode: 0.0);
            for (var r = 0; r < 3; r++)
            {
                var t = Time(generator, request, ct);
                best = (Math.Max(best.Prefill, t.Prefill), Math.Max(best.Decode, t.Decode));
            }
            var bytesPerToken = ModelCost.For(checkpoint).DecodeBytesPerStep(1);
            return new Dictionary<string, object?>
            {
                ["model"] = options.E2eModel ?? $"synthetic {cfg.NumHiddenLayers}-layer {options.E2eDType} from {options.E2eConfig ?? "v2-lite-config.json"}",
                ["layers"] = cfg.NumHiddenLayers,
                ["hidden_size"] = cfg.HiddenSize,
                ["routed_experts"] = cfg.NRoutedExperts,
                ["experts_per_token"] = cfg.NumExpertsPerTok,
                ["prompt_tokens"] = options.PromptTokens,
                ["gen_tokens"] = options.GenTokens,
                ["synth_s"] = Math.Round(synthSeconds, 1),
                ["warmup_s"] = Math.Round(warmSeconds, 1),
                ["uploaded_weights"] = gpu.UploadedWeights,
                ["prefill_tokens_per_s"] = Math.Round(best.Prefill, 2),
                ["decode_tokens_per_s"] = Math.Round(best.Decode, 2),
                ["decode_bytes_per_token"] = Math.Round(bytesPerToken),
                // Activated weight bytes × tokens/s: the bandwidth decode reaches, to compare with the GPU's HBM.
                ["decode_weight_gbs"] = Math.Round(bytesPerToken * best.Decode / 1e9, 1),
            };
        }
        finally
        {
            if (temporary is not null && Directory.Exists(temporary)) Directory.Delete(temporary, recursive: true);
        }
    }

    private static (double Prefill, double Decode) Time(Generator generator, GenerationRequest[] requests, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        TimeSpan first = default;
        var tokens = 0;
        foreach (var _ in generator.Generate(requests, cancellationToken: ct))
            if (tokens++ == 0) first = clock.Elapsed;
        var decode = clock.Elapsed - first;
        var promptTokens = requests.Sum(r => r.Prompt.Count);
        return (promptTokens / Math.Max(first.TotalSeconds, 1e-9), (tokens - requests.Length) / Math.Max(decode.TotalSeconds, 1e-9));
    }
}
