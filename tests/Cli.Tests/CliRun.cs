namespace DeepSeek.Cli.Tests;

/// <summary>Runs the <c>deepseek</c> command in-process and captures what it prints.</summary>
internal static class CliRun
{
    public static async Task<(int Exit, string Out, string Err)> RunAsync(params string[] args) => await RunAsync(args, CancellationToken.None);

    public static async Task<(int Exit, string Out, string Err)> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var exit = await DeepSeekCommand.RunAsync(args, TextWriter.Synchronized(output), TextWriter.Synchronized(error), cancellationToken);
        return (exit, output.ToString(), error.ToString());
    }
}
