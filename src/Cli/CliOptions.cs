using System.CommandLine;
using DeepSeek.Runtime.Tensors;
using DeepSeek.Runtime.Training.Sft;

namespace DeepSeek.Cli;

/// <summary>Options several commands share, declared and parsed in one place.</summary>
internal static class CliOptions
{
    /// <summary><c>--verbose/-v</c>: stack traces on errors.</summary>
    public static Option<bool> Verbose() => new("--verbose", "-v") { Description = "Show stack traces on errors." };

    /// <summary><c>--backend cpu|cuda</c> (default cpu).</summary>
    public static Option<string> Backend()
    {
        var option = new Option<string>("--backend")
        {
            Description = "Compute backend: cpu, or cuda (an NVIDIA GPU; needs the NVIDIA driver).",
            DefaultValueFactory = _ => "cpu",
        };
        option.AcceptOnlyFromAmong("cpu", "cuda");
        return option;
    }

    /// <summary><c>--save-dtype f32|bf16</c> (default bf16), parsed to the <see cref="DType"/> to write.</summary>
    public static Option<DType> SaveDtype()
    {
        var option = new Option<DType>("--save-dtype")
        {
            Description = "f32 or bf16.",
            DefaultValueFactory = _ => DType.BF16,
            CustomParser = r => r.Tokens[0].Value == "f32" ? DType.F32 : DType.BF16,
        };
        option.AcceptOnlyFromAmong("f32", "bf16");
        return option;
    }

    /// <summary><c>--optimizer adamw|sgd</c> (default adamw).</summary>
    public static Option<OptimizerKind> Optimizer()
    {
        var option = new Option<OptimizerKind>("--optimizer")
        {
            Description = "adamw or sgd.",
            DefaultValueFactory = _ => OptimizerKind.AdamW,
            CustomParser = r => r.Tokens[0].Value == "sgd" ? OptimizerKind.Sgd : OptimizerKind.AdamW,
        };
        option.AcceptOnlyFromAmong("adamw", "sgd");
        return option;
    }
}
