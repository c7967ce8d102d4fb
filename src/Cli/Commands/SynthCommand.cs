using System.CommandLine;
using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Tensors;

namespace DeepSeek.Cli.Commands;

/// <summary>
/// <c>deepseek synth (--config FILE | --preset v2-lite-slice|qwen2-1.5b-slice) --out DIR [--dtype bf16|f32|fp8] [--shards N] [--seed S]</c>:
/// writes a random-weight checkpoint in the exact layout of a config — for tests, benchmarks on real shapes and trying the
/// tools offline.
/// </summary>
internal static class SynthCommand
{
    public static Command Create()
    {
        var config = new Option<FileInfo>("--config", "-c") { Description = "A Hugging Face config.json whose shapes to generate." };
        var preset = new Option<string>("--preset") { Description = $"A built-in benchmark config instead of --config: {string.Join(", ", SynthPresets.Names)}." };
        preset.AcceptOnlyFromAmong([.. SynthPresets.Names]);
        var output = new Option<DirectoryInfo>("--out", "-o") { Description = "Folder to write config.json and the safetensors into.", Required = true };
        var dtype = new Option<string>("--dtype") { Description = "Linear weight storage: bf16, f32 or fp8 (block-scaled E4M3).", DefaultValueFactory = _ => "bf16" };
        dtype.AcceptOnlyFromAmong("bf16", "f32", "fp8");
        var shards = new Option<int>("--shards") { Description = "Number of shard files.", DefaultValueFactory = _ => 1 };
        var seed = new Option<ulong>("--seed") { Description = "Weight generator seed.", DefaultValueFactory = _ => 1UL };
        var verbose = CliOptions.Verbose();
        var command = new Command("synth", "Write a random-weight checkpoint with the exact tensor layout of a config.") { config, preset, output, dtype, shards, seed, verbose };
        command.SetAction((parse, ct) => Task.FromResult(CliErrors.Guard(parse.InvocationConfiguration.Error, parse.GetValue(verbose), () =>
        {
            var (file, name) = (parse.GetValue(config), parse.GetValue(preset));
            if ((file is null) == (name is null)) throw new ArgumentException("give either --config FILE or --preset NAME");
            var cfg = file is not null ? ModelConfig.Load(file.FullName) : ModelConfig.Parse(SynthPresets.Json(name!), $"preset {name}");
            var options = new SyntheticCheckpointOptions
            {
                Seed = parse.GetValue(seed),
                Shards = parse.GetValue(shards),
                WeightDType = parse.GetValue(dtype) switch { "f32" => DType.F32, "fp8" => DType.F8_E4M3, _ => DType.BF16 },
            };
            var dir = parse.GetRequiredValue(output).FullName;
            var files = SyntheticCheckpoint.Write(cfg, dir, options, ct);
            parse.InvocationConfiguration.Output.WriteLine($"wrote {files.Count} files to {dir}: {string.Join(", ", files)}");
            return 0;
        })));
        return command;
    }
}
