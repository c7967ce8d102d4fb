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

    /// <summary><c>--fp32</c>: the CPU backend keeps fp32 activations in every matmul (<see cref="Runtime.Compute.Cpu.CpuBackend.NativeKernels"/> off).</summary>
    public static Option<bool> Fp32() => new("--fp32")
    {
        Description = "CPU: fp32 activations in every matmul (no native AVX512-BF16 prefill GEMM, which rounds them to bf16); for comparisons with fp32 references.",
    };

    /// <summary>Applies <see cref="Fp32"/> to a CPU backend (other backends ignore it).</summary>
    public static void ApplyFp32(Runtime.Compute.IComputeBackend backend, bool fp32)
    {
        if (fp32 && backend is Runtime.Compute.Cpu.CpuBackend cpu) cpu.NativeKernels = false;
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
