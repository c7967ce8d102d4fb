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
            GenerateCommand.Create(),
            ServeCommand.Create(),
            TrainCommand.Create(),
            TrainCommand.Lora(),
            ChatCommand.Create(),
            EvalCommand.Create(),
            PipelineScheduleCommand.Create(),
            BenchCommand.Create(),
        };
        return root;
    }

    /// <summary>Parses <paramref name="args"/> and runs the chosen command; returns the process exit code.</summary>
    public static Task<int> RunAsync(string[] args, TextWriter? output = null, TextWriter? error = null, CancellationToken cancellationToken = default)
    {
        var config = new InvocationConfiguration
        {
            Output = output ?? Console.Out,
            Error = error ?? Console.Error,
        };
        var parsed = Build().Parse(args);
        // Usage errors are one line, like every other error of this command (help stays on --help).
        if (parsed.Errors.Count > 0 && parsed.Action is not System.CommandLine.Help.HelpAction)
        {
            config.Error.WriteLine($"error: {string.Join("; ", parsed.Errors.Select(e => e.Message))} (see --help)");
            return Task.FromResult(1);
        }
        return parsed.InvokeAsync(config, cancellationToken);
    }
}
