using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Compute;
using DeepSeek.Runtime.Generation;
using DeepSeek.Runtime.Model;
using DeepSeek.Runtime.Tensors;
using DeepSeek.Runtime.Tokenization;

namespace DeepSeek.Cli.Commands;

/// <summary>
/// <c>deepseek generate --model DIR (--prompt TEXT | --tokens 1,2,3) [--max-tokens N] [--greedy] [--temperature T]
/// [--top-p P] [--top-k K] [--seed S] [--threads N] [--backend cpu|cuda] [--fp32] [--mla plain|absorbed] [--dump-logits FILE.npy]
/// [--dump-mtp-logits FILE.npy] [--json]</c> — a contract other tools rely on (see README).
/// </summary>
internal static class GenerateCommand
{
    public static Command Create()
    {
        var model = new Option<DirectoryInfo>("--model", "-m") { Description = "Checkpoint folder.", Required = true };
        var prompt = new Option<string>("--prompt", "-p") { Description = "Prompt text, encoded with the model's tokenizer (BOS added as tokenizer_config.json says)." };
        var tokens = new Option<string>("--tokens") { Description = "Prompt token ids, comma-separated, fed as given (no BOS added)." };
        var maxTokens = new Option<int>("--max-tokens", "-n") { Description = "Tokens to generate.", DefaultValueFactory = _ => 32 };
        var greedy = new Option<bool>("--greedy") { Description = "Argmax decoding (temperature 0)." };
        var temperature = new Option<double>("--temperature") { Description = "Sampling temperature (DeepSeek recommend 0.6 for R1).", DefaultValueFactory = _ => 0.6 };
        var topP = new Option<double>("--top-p") { Description = "Nucleus sampling threshold.", DefaultValueFactory = _ => 0.95 };
        var topK = new Option<int>("--top-k") { Description = "Keep the k most likely tokens (0 = off)." };
        var seed = new Option<long?>("--seed") { Description = "Sampling seed: the same seed gives the same tokens." };
        var threads = new Option<int>("--threads", "-t") { Description = "CPU threads (0 = all cores)." };
        var backendName = CliOptions.Backend();
        var fp32 = CliOptions.Fp32();
        var mla = new Option<string>("--mla") { Description = "MLA form: absorbed (latent cache) or plain.", DefaultValueFactory = _ => "absorbed" };
        mla.AcceptOnlyFromAmong("absorbed", "plain");
        var dumpLogits = new Option<FileInfo>("--dump-logits") { Description = "Write float32 .npy [P + N − 1, vocab]: prompt rows from the prefill, then one row per decode step." };
        var dumpMtp = new Option<FileInfo>("--dump-mtp-logits") { Description = "Write float32 .npy [P, vocab] of MTP logits over the prompt." };
        var json = new Option<bool>("--json") { Description = "Print {\"tokens\":[...],\"text\":...} (plus usage and speed)." };
        var context = new Option<int>("--context") { Description = "Context length (prompt + generated).", DefaultValueFactory = _ => 4096 };
        var checkWeights = new Option<bool>("--check-weights") { Description = "Scan every weight for NaN/∞ before running." };
        var verbose = new Option<bool>("--verbose", "-v") { Description = "Show stack traces on errors and speed on stderr." };
        var command = new Command("generate", "Generate tokens from a prompt.")
        {
            model, prompt, tokens, maxTokens, greedy, temperature, topP, topK, seed, threads, backendName, fp32, mla, dumpLogits, dumpMtp, json, context, checkWeights, verbose,
        };
        command.Validators.Add(r =>
        {
            if ((r.GetValue(prompt) is null) == (r.GetValue(tokens) is null)) r.AddError("give exactly one of --prompt and --tokens");
        });
        command.SetAction((parse, ct) => Task.FromResult(CliErrors.Guard(parse.InvocationConfiguration.Error, parse.GetValue(verbose), () =>
        {
            var output = parse.InvocationConfiguration.Output;
            var dir = parse.GetRequiredValue(model).FullName;
            using var checkpoint = Checkpoint.Open(dir);
            var weights = WeightMap.Bind(checkpoint);
            if (parse.GetValue(checkWeights)) WeightScan.ThrowIfNonFinite(checkpoint, ct);

            var config = checkpoint.Config;
            var tokenizer = File.Exists(Path.Combine(dir, "tokenizer.json")) ? BpeTokenizer.FromDirectory(dir) : null;
            int[] promptIds;
            if (parse.GetValue(tokens) is { } list) promptIds = ParseIds(list);
            else
            {
                if (tokenizer is null) throw new ArgumentException($"model folder '{dir}' has no tokenizer.json; pass --tokens instead of --prompt");
                promptIds = [.. tokenizer.Encode(parse.GetRequiredValue(prompt), addSpecialTokens: true)];
            }
            if (promptIds.Length == 0) throw new ArgumentException("the prompt is empty");

            var n = parse.GetValue(maxTokens);
            if (n < 1) throw new ArgumentException($"--max-tokens must be at least 1 (got {n})");
            var contextLength = Math.Min(parse.GetValue(context), config.MaxPositionEmbeddings);
            if (promptIds.Length + n > contextLength)
                throw new ContextLengthException($"prompt of {promptIds.Length} tokens plus {n} new tokens exceeds the {contextLength}-token context", promptIds.Length + n, contextLength);

            using var backend = ComputeBackends.Create(parse.GetValue(backendName) ?? "cpu", parse.GetValue(threads));
            CliOptions.ApplyFp32(backend, parse.GetValue(fp32));
            var transformer = new Transformer(backend, weights, contextLength, parse.GetValue(mla) == "plain" ? MlaMode.Plain : MlaMode.Absorbed);
            var options = parse.GetValue(greedy)
                ? SamplingOptions.Greedy with { MaxTokens = n }
                : new SamplingOptions { Temperature = parse.GetValue(temperature), TopP = parse.GetValue(topP), TopK = parse.GetValue(topK), Seed = parse.GetValue(seed), MaxTokens = n };

            if (parse.GetValue(dumpMtp) is { } mtpFile) DumpMtpLogits(transformer, promptIds, mtpFile.FullName);

            var vocab = transformer.VocabSize;
            var rows = parse.GetValue(dumpLogits) is null ? null : new List<float[]>();
            var generator = new Generator(transformer, tokenizer is null ? null : () => new TokenizerTextDecoder(tokenizer, skipSpecialTokens: true), EosIds(config, tokenizer), contextLength, tokenizer?.VocabSize);
            var generated = new List<int>();
            var text = new StringBuilder();
            var asJson = parse.GetValue(json);
            var clock = Stopwatch.StartNew();
            TimeSpan prefill = default;
            FinishReason finish = FinishReason.Length;
            foreach (var t in generator.Generate([new GenerationRequest(promptIds, options)], rows is null ? null : (_, _, l) => rows.Add(l.ToArray()), rows is not null, ct))
            {
                if (generated.Count == 0) prefill = clock.Elapsed;
                generated.Add(t.TokenId);
                text.Append(t.Text);
                if (!asJson && tokenizer is not null) { output.Write(t.Text); output.Flush(); }
                if (t.Finish is { } f) finish = f;
            }
            var decode = clock.Elapsed - prefill;

            if (rows is not null)
            {
                var flat = new float[rows.Count * vocab];
                for (var i = 0; i < rows.Count; i++) rows[i].CopyTo(flat, i * vocab);
                NpyFile.WriteFloat32(parse.GetValue(dumpLogits)!.FullName, flat, rows.Count, vocab);
            }

            var prefillRate = promptIds.Length / Math.Max(prefill.TotalSeconds, 1e-9);
            var decodeRate = (generated.Count - 1) / Math.Max(decode.TotalSeconds, 1e-9);
            if (asJson)
            {
                output.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object?>
                {
                    ["tokens"] = generated,
                    ["text"] = tokenizer is null ? null : text.ToString(),
                    ["prompt_tokens"] = promptIds.Length,
                    ["finish_reason"] = finish.ToString().ToLowerInvariant(),
                    ["prefill_tokens_per_second"] = Math.Round(prefillRate, 2),
                    ["decode_tokens_per_second"] = generated.Count > 1 ? Math.Round(decodeRate, 2) : null,
                }));
            }
            else
            {
                if (tokenizer is null) output.Write(string.Join(",", generated));
                output.WriteLine();
            }
            if (parse.GetValue(verbose))
                parse.InvocationConfiguration.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"prefill {promptIds.Length} tokens at {prefillRate:F1} tok/s, decode {generated.Count} tokens at {decodeRate:F1} tok/s, finish: {finish}"));
            return 0;
        })));
        return command;
    }

    private static int[] ParseIds(string list)
    {
        var parts = list.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        var ids = new int[parts.Length];
        for (var i = 0; i < parts.Length; i++)
            if (!int.TryParse(parts[i], NumberStyles.Integer, CultureInfo.InvariantCulture, out ids[i]))
                throw new ArgumentException($"--tokens: '{parts[i]}' is not an integer token id");
        return ids;
    }

    private static IEnumerable<int> EosIds(ModelConfig config, BpeTokenizer? tokenizer) =>
        tokenizer?.EosTokenId is { } eos ? config.EosTokenIds.Append(eos).Distinct() : config.EosTokenIds;

    /// <summary>MTP logits over the prompt: position i uses token i+1; the last uses the greedy next token.</summary>
    private static void DumpMtpLogits(Transformer model, int[] prompt, string path)
    {
        if (model.Mtp.Count == 0) throw new ArgumentException($"--dump-mtp-logits: the model has no MTP layer (num_nextn_predict_layers = {model.Config.NumNextNPredictLayers})");
        var vocab = model.VocabSize;
        var cache = model.CreateCache(1, prompt.Length);
        var last = new float[vocab];
        var main = model.Forward(prompt, new int[prompt.Length], cache, [prompt.Length - 1], last);
        var next = prompt.Skip(1).Append(Sampler.ArgMax(last)).ToArray();
        var logits = new float[prompt.Length * vocab];
        model.MtpForward(next, main, cache, Enumerable.Range(0, prompt.Length).ToArray(), logits);
        NpyFile.WriteFloat32(path, logits, prompt.Length, vocab);
    }
}
