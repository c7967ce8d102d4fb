using System.CommandLine;
using DeepSeek.Cli.Commands;

namespace DeepSeek.Cli;

/// <summary>The root of the <c>deepseek</c> command line: one sub-command per job.</summary>
internal static class DeepSeekCommand
{
    /// <summary>Builds the command tree.</summary>
    public static RootCommand Build()
    {
        var root = new RootCommand("DeepSeek.Runtime: run and fine-tune DeepSeek-family models from .NET.")
        {
            InspectCommand.Create(),
            SynthCommand.Create(),
            TokenizeCommand.Create(),
        };
        return root;
    }

    /// <summary>Parses <paramref name="args"/> and runs the chosen command; returns the process exit code.</summary>
    public static Task<int> RunAsync(string[] args, TextWriter? output = null, TextWriter? error = null)
    {
        var config = new InvocationConfiguration
        {
            Output = output ?? Console.Out,
            Error = error ?? Console.Error,
        };
        return Build().Parse(args).InvokeAsync(config);
    }
}
