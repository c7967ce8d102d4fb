using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using DeepSeek.Runtime.Checkpoints;

namespace DeepSeek.Cli.Commands;

/// <summary>
/// <c>deepseek inspect --model DIR [--json] [--verbose]</c>: architecture, parameter counts, dtype mix, shards,
/// invalid tensors and latent KV-cache bytes per token. Exit code 0 for a valid checkpoint, 1 for a damaged or
/// invalid one (one line on stderr; the stack trace only with <c>--verbose</c>).
/// </summary>
internal static class InspectCommand
{
    public static Command Create()
    {
        var model = new Option<DirectoryInfo>("--model", "-m") { Description = "Checkpoint folder (config.json + *.safetensors).", Required = true };
        var json = new Option<bool>("--json") { Description = "Print the report as JSON." };
        var verbose = CliOptions.Verbose();
        var command = new Command("inspect", "Describe a checkpoint and validate every tensor against its config.") { model, json, verbose };
        command.SetAction(parse =>
        {
            var output = parse.InvocationConfiguration.Output;
            var error = parse.InvocationConfiguration.Error;
            return CliErrors.Guard(error, parse.GetValue(verbose), () =>
            {
                using var checkpoint = Checkpoint.Open(parse.GetRequiredValue(model).FullName);
                var summary = CheckpointSummary.Create(checkpoint);
                if (parse.GetValue(json)) WriteJson(output, summary);
                else WriteText(output, summary);
                if (summary.Report.IsValid) return 0;
                var first = summary.Report.Problems[0];
                error.WriteLine($"error: checkpoint '{summary.Directory}' has {summary.Report.Problems.Count} invalid tensor(s); first: {first}");
                return 1;
            });
        });
        return command;
    }

    private static string N(long v) => v.ToString("N0", CultureInfo.InvariantCulture);

    private static string Human(long v) =>
        v >= 1_000_000_000 ? $"{v / 1e9:0.##}B" : v >= 1_000_000 ? $"{v / 1e6:0.##}M" : v >= 1_000 ? $"{v / 1e3:0.##}K" : v.ToString(CultureInfo.InvariantCulture);

    private static void WriteText(TextWriter o, CheckpointSummary s)
    {
        var c = s.Config;
        o.WriteLine($"checkpoint   {s.Directory}");
        o.WriteLine($"model_type   {c.ModelType}  ({c.NumHiddenLayers} layers, hidden {c.HiddenSize}, vocab {c.VocabSize}, max positions {c.MaxPositionEmbeddings})");
        if (c.IsMla)
            o.WriteLine($"attention    MLA: {c.NumAttentionHeads} heads, q_lora {(c.QLoraRank?.ToString(CultureInfo.InvariantCulture) ?? "none")}, kv_lora {c.KvLoraRank}, qk nope/rope {c.QkNopeHeadDim}/{c.QkRopeHeadDim}, v {c.VHeadDim}");
        else
            o.WriteLine($"attention    GQA: {c.NumAttentionHeads} heads, {c.NumKeyValueHeads} KV heads, head dim {c.HeadDim}{(c.AttentionBias || c.Architecture == ModelArchitecture.Qwen2 ? ", q/k/v bias" : "")}");
        if (c.IsMoe)
            o.WriteLine($"moe          {c.NRoutedExperts} routed + {c.NSharedExperts} shared experts (width {c.MoeIntermediateSize}), top-{c.NumExpertsPerTok}, {c.NGroup} groups keep {c.TopKGroup}, {c.ScoringFunc.ToConfigName()} + {c.TopKMethod.ToConfigName()}, scale {c.RoutedScalingFactor.ToString(CultureInfo.InvariantCulture)}; dense below layer {c.FirstKDenseReplace}");
        else
            o.WriteLine($"mlp          dense SwiGLU, width {c.IntermediateSize}");
        if (c.RopeScaling is { } r)
            o.WriteLine($"rope         theta {c.RopeTheta.ToString(CultureInfo.InvariantCulture)}, {r.Type.ToConfigName()} ×{r.Factor.ToString(CultureInfo.InvariantCulture)} over {r.OriginalMaxPositionEmbeddings?.ToString(CultureInfo.InvariantCulture) ?? "?"}");
        else
            o.WriteLine($"rope         theta {c.RopeTheta.ToString(CultureInfo.InvariantCulture)}");
        if (c.NumNextNPredictLayers > 0) o.WriteLine($"mtp          {c.NumNextNPredictLayers} layer(s) from index {c.NumHiddenLayers}");
        if (c.Quantization is { } q) o.WriteLine($"quantization {q.QuantMethod} {q.Format}, {q.BlockRows}×{q.BlockCols} blocks, activations {q.ActivationScheme}");
        var p = s.Parameters;
        o.WriteLine($"parameters   {Human(p.Total)} total ({N(p.Total)}), {Human(p.ActivatedPerToken)} activated per token ({N(p.ActivatedPerToken)}){(p.Mtp > 0 ? $", MTP {Human(p.Mtp)} ({N(p.Mtp)})" : "")}");
        o.WriteLine($"kv cache     {c.KvCacheValuesPerTokenPerLayer} values/token/layer × {c.NumHiddenLayers} layers = {N(s.KvCacheBytesPerToken(2))} bytes/token in BF16 ({N(s.KvCacheBytesPerToken(4))} in F32)");
        o.WriteLine($"dtypes       {string.Join(", ", s.DTypes.Select(d => $"{d.DType}: {d.Tensors} tensors, {N(d.Bytes)} bytes"))}");
        o.WriteLine($"shards       {s.Shards.Count} file(s), {s.TensorCount} tensors");
        foreach (var f in s.Shards) o.WriteLine($"  {f.File,-40} {N(f.Bytes),16} bytes  {f.Tensors,6} tensors");
        if (s.Report.Unexpected.Count > 0)
        {
            o.WriteLine($"unexpected   {s.Report.Unexpected.Count} tensor(s) the config does not use:");
            foreach (var u in s.Report.Unexpected.Take(20)) o.WriteLine($"  {u}");
        }
        if (s.Report.IsValid)
        {
            o.WriteLine("validation   ok: every tensor matches the shape and dtype config.json implies");
            return;
        }
        o.WriteLine($"validation   FAILED: {s.Report.Problems.Count} tensor(s)");
        foreach (var pr in s.Report.Problems) o.WriteLine($"  {pr}");
    }

    private static void WriteJson(TextWriter o, CheckpointSummary s)
    {
        var c = s.Config;
        var doc = new Dictionary<string, object?>
        {
            ["model_dir"] = s.Directory,
            ["model_type"] = c.ModelType,
            ["valid"] = s.Report.IsValid,
            ["architecture"] = new Dictionary<string, object?>
            {
                ["num_hidden_layers"] = c.NumHiddenLayers,
                ["hidden_size"] = c.HiddenSize,
                ["vocab_size"] = c.VocabSize,
                ["num_attention_heads"] = c.NumAttentionHeads,
                ["num_key_value_heads"] = c.NumKeyValueHeads,
                ["attention"] = c.IsMla ? "mla" : "gqa",
                ["q_lora_rank"] = c.QLoraRank,
                ["kv_lora_rank"] = c.KvLoraRank,
                ["n_routed_experts"] = c.NRoutedExperts,
                ["n_shared_experts"] = c.NSharedExperts,
                ["num_experts_per_tok"] = c.NumExpertsPerTok,
                ["first_k_dense_replace"] = c.FirstKDenseReplace,
                ["num_nextn_predict_layers"] = c.NumNextNPredictLayers,
                ["quantization"] = c.Quantization is null ? null : $"{c.Quantization.QuantMethod}-{c.Quantization.Format}",
            },
            ["parameters"] = new Dictionary<string, long>
            {
                ["total"] = s.Parameters.Total,
                ["activated_per_token"] = s.Parameters.ActivatedPerToken,
                ["mtp"] = s.Parameters.Mtp,
            },
            ["kv_cache"] = new Dictionary<string, long>
            {
                ["values_per_token_per_layer"] = c.KvCacheValuesPerTokenPerLayer,
                ["layers"] = c.NumHiddenLayers,
                ["bytes_per_token_bf16"] = s.KvCacheBytesPerToken(2),
                ["bytes_per_token_f32"] = s.KvCacheBytesPerToken(4),
            },
            ["dtypes"] = s.DTypes.Select(d => new Dictionary<string, object> { ["dtype"] = d.DType.ToString(), ["tensors"] = d.Tensors, ["bytes"] = d.Bytes }).ToList(),
            ["shards"] = s.Shards.Select(f => new Dictionary<string, object> { ["file"] = f.File, ["bytes"] = f.Bytes, ["tensors"] = f.Tensors }).ToList(),
            ["tensor_count"] = s.TensorCount,
            ["problems"] = s.Report.Problems.Select(p => new Dictionary<string, string?> { ["tensor"] = p.Tensor, ["message"] = p.Message, ["file"] = p.File }).ToList(),
            ["unexpected"] = s.Report.Unexpected,
        };
        o.WriteLine(JsonSerializer.Serialize(doc, new JsonSerializerOptions { WriteIndented = true }));
    }
}
