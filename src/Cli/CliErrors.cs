using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Generation;
using DeepSeek.Runtime.Hosting;
using DeepSeek.Runtime.Tokenization;
using Microsoft.Extensions.Options;

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
        catch (Exception e) when (TryReport(error, verbose, e))
        {
            return 1;
        }
    }

    /// <summary>
    /// Prints a known failure (bad input: checkpoint, config, tokenizer, context, options, arguments, files; no NVIDIA
    /// driver or a CUDA driver error with --backend cuda, MPI needed but not launched by mpirun, a parallel group that
    /// failed for such a reason) as one
    /// <c>error:</c> line and returns true; returns false for anything else, which is a bug and should surface whole.
    /// </summary>
    public static bool TryReport(TextWriter error, bool verbose, Exception e)
    {
        if (!IsKnown(e)) return false;
        // ArgumentException appends "(Parameter 'x')": noise for a command-line user.
        var message = e is ArgumentException { ParamName: { } p } ? e.Message.Replace($" (Parameter '{p}')", "", StringComparison.Ordinal) : e.Message;
        error.WriteLine($"error: {message}");
        if (verbose) error.WriteLine(e.ToString());
        return true;
    }

    /// <summary>
    /// Bad input, a missing driver or launcher, or a parallel group that failed for one of those (or for its transport, a
    /// timeout or a killed rank: no inner exception): a rank's bug inside a group still surfaces whole.
    /// </summary>
    private static bool IsKnown(Exception e)
    {
        if (e is DeepSeek.Runtime.Distributed.CommunicatorException c)
            return c.InnerException is null || IsKnown(c.InnerException);
        return e is CheckpointFormatException or ModelConfigException or DeepSeek.Runtime.Training.Sft.TrainingDataException or TokenizerFormatException or ChatTemplateException or ContextLengthException
            or BackendNotSupportedException or OptionsValidationException or IOException or UnauthorizedAccessException or ArgumentException
            or DeepSeek.Interop.Cuda.CudaUnavailableException or DeepSeek.Interop.Cuda.CudaException or DeepSeek.Interop.Mpi.MpiUnavailableException;
    }
}
