using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Generation;
using DeepSeek.Runtime.Tokenization;

namespace DeepSeek.Cli;

/// <summary>Turns the runtime's typed errors into one clear stderr line and a non-zero exit code.</summary>
internal static class CliErrors
{
    /// <summary>Runs <paramref name="body"/>; a known failure prints <c>error: …</c> (plus the stack trace when <paramref name="verbose"/>) and returns 1.</summary>
    public static int Guard(TextWriter error, bool verbose, Func<int> body)
    {
        try
        {
            return body();
        }
        catch (Exception e) when (e is CheckpointFormatException or ModelConfigException or TokenizerFormatException or ContextLengthException or IOException or UnauthorizedAccessException or ArgumentException)
        {
            // ArgumentException appends "(Parameter 'x')": noise for a command-line user.
            var message = e is ArgumentException { ParamName: { } p } ? e.Message.Replace($" (Parameter '{p}')", "", StringComparison.Ordinal) : e.Message;
            error.WriteLine($"error: {message}");
            if (verbose) error.WriteLine(e.ToString());
            return 1;
        }
    }
}
