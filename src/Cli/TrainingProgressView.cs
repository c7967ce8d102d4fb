using Spectre.Console;

namespace DeepSeek.Cli;

/// <summary>
/// Shows training progress: a live Spectre.Console bar (step, loss or reward, tokens/s) when the output is an
/// interactive terminal, otherwise one plain line every few steps (logs, CI, tests).
/// </summary>
internal static class TrainingProgressView
{
    /// <summary>True when <paramref name="output"/> is the process's console and it is not redirected.</summary>
    public static bool IsInteractive(TextWriter output) =>
        ReferenceEquals(output, Console.Out) && !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive;

    /// <summary>
    /// Runs <paramref name="train"/> with a reporter taking (step, steps, text): a live bar on a terminal, plain lines
    /// (about 50 over the run, and the last step) elsewhere.
    /// </summary>
    public static T Run<T>(TextWriter output, string title, int steps, Func<Action<int, string>, T> train)
    {
        if (!IsInteractive(output))
        {
            var every = Math.Max(1, steps / 50);
            return train((step, text) =>
            {
                if (step % every == 0 || step == steps) output.WriteLine($"step {step}/{steps}  {text}");
            });
        }
        T result = default!;
        AnsiConsole.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
            .Start(ctx =>
            {
                var task = ctx.AddTask(Markup.Escape(title), maxValue: steps);
                result = train((step, text) =>
                {
                    task.Description = Markup.Escape($"{title}  step {step}/{steps}  {text}");
                    task.Value = step;
                });
            });
        return result;
    }
}
