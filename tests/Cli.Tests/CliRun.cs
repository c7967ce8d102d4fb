namespace DeepSeek.Cli.Tests;

/// <summary>Runs the <c>deepseek</c> command in-process and captures what it prints.</summary>
internal static class CliRun
{
    public static async Task<(int Exit, string Out, string Err)> RunAsync(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var exit = await DeepSeekCommand.RunAsync(args, output, error);
        return (exit, output.ToString(), error.ToString());
    }
}
