using DeepSeek.Interop.Cuda;
using DeepSeek.Runtime.Tests;

namespace DeepSeek.Cli.Tests.Commands;

/// <summary><c>--backend cpu|cuda</c>: cpu runs as before; cuda without an NVIDIA driver is one clear error line.</summary>
public class BackendOptionTests
{
    private static readonly string Model = RepoPaths.TestData("models", "tiny-v3");

    [Fact]
    public async Task Cpu_is_the_default_and_can_be_named()
    {
        var (exit, output, _) = await CliRun.RunAsync("generate", "--model", Model, "--tokens", "1,2,3", "--greedy", "--max-tokens", "2", "--json");
        var (exitCpu, outputCpu, _) = await CliRun.RunAsync("generate", "--model", Model, "--tokens", "1,2,3", "--greedy", "--max-tokens", "2", "--json", "--backend", "cpu");
        Assert.Equal(0, exit);
        Assert.Equal(0, exitCpu);
        Assert.Equal(output[..output.IndexOf("\"prompt_tokens\"", StringComparison.Ordinal)], outputCpu[..outputCpu.IndexOf("\"prompt_tokens\"", StringComparison.Ordinal)]);
    }

    [Theory]
    [InlineData("generate")]
    [InlineData("chat")]
    [InlineData("bench")]
    public async Task Cuda_without_a_driver_is_one_error_line(string command)
    {
        if (CudaDriverLibrary.IsAvailable) return;   // a GPU machine runs it for real
        string[] args = command switch
        {
            "generate" => ["generate", "--model", Model, "--tokens", "1,2,3", "--backend", "cuda"],
            "bench" => ["bench", "--model", Model, "--prompt-tokens", "3", "--gen-tokens", "2", "--backend", "cuda", "--json"],
            _ => ["chat", "--model", Model, "hello", "--backend", "cuda"],
        };
        var (exit, output, error) = await CliRun.RunAsync(args);
        Assert.Equal(1, exit);
        Assert.Equal("", output);
        Assert.StartsWith("error: No NVIDIA driver: libcuda.so.1", error);
        Assert.Single(error.TrimEnd().Split('\n'));
    }

    [Fact]
    public async Task Other_backends_are_usage_errors()
    {
        var (exit, _, error) = await CliRun.RunAsync("generate", "--model", Model, "--tokens", "1", "--backend", "tpu");
        Assert.NotEqual(0, exit);
        Assert.Contains("tpu", error, StringComparison.Ordinal);
    }
}
