using System.CommandLine;
using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Generation;
using DeepSeek.Runtime.Hosting;
using DeepSeek.Runtime.Tokenization;

namespace DeepSeek.Cli.Commands;

/// <summary>
/// <c>deepseek chat [--model DIR] [PROMPT] [--max-tokens N] [--temperature T] [--seed S] [--threads N] [--backend cpu|cuda] [--system TEXT]</c>:
/// one answer when a prompt is given (answer on stdout, reasoning on stderr), otherwise a REPL with history
/// (<c>/reset</c>, <c>/exit</c>; Ctrl+C cancels the current answer). Reasoning is ANSI-dimmed on a terminal and goes to stderr otherwise.
/// </summary>
internal static class ChatCommand
{
    private const string Dim = "\u001b[2m", Undim = "\u001b[22m";

    /// <summary>Builds the command; <paramref name="input"/> replaces the console's stdin for the REPL (tests).</summary>
    public static Command Create(TextReader? input = null)
    {
        var model = new Option<DirectoryInfo>("--model", "-m") { Description = $"Checkpoint folder (with tokenizer.json and tokenizer_config.json); default: the embedded {EmbeddedModel.Name}." };
        var prompt = new Argument<string?>("prompt") { Description = "Ask once and exit; without it, chat interactively.", Arity = ArgumentArity.ZeroOrOne };
        var maxTokens = new Option<int>("--max-tokens", "-n") { Description = "Most tokens per answer (capped to the context left).", DefaultValueFactory = _ => 1024 };
        var temperature = new Option<double>("--temperature") { Description = "Sampling temperature (0 = greedy; DeepSeek recommend 0.6).", DefaultValueFactory = _ => 0.6 };
        var seed = new Option<long?>("--seed") { Description = "Sampling seed: the same seed gives the same answers." };
        var threads = new Option<int>("--threads", "-t") { Description = "CPU threads (0 = all cores)." };
        var backend = CliOptions.Backend();
        var system = new Option<string?>("--system", "-s") { Description = "System prompt." };
        var context = new Option<int>("--context") { Description = "Context length (prompt + answer).", DefaultValueFactory = _ => 4096 };
        var verbose = CliOptions.Verbose();
        var command = new Command("chat", "Chat with a model: one answer for PROMPT, or a REPL.") { model, prompt, maxTokens, temperature, seed, threads, backend, system, context, verbose };
        command.SetAction(async (parse, ct) =>
        {
            var output = parse.InvocationConfiguration.Output;
            var error = parse.InvocationConfiguration.Error;
            try
            {
                var dir = parse.GetValue(model) ?? new DirectoryInfo(EmbeddedModel.GetPath());
                var options = new DeepSeekModelOptions
                {
                    ModelPath = dir.FullName,
                    Temperature = parse.GetValue(temperature),
                    MaxOutputTokens = parse.GetValue(maxTokens),
                    Threads = parse.GetValue(threads),
                    Backend = parse.GetValue(backend) ?? "cpu",
                    ContextLength = parse.GetValue(context),
                };
                var problems = new DeepSeekModelOptionsValidator().Validate(null, options);
                if (problems.Failed) throw new ArgumentException(string.Join(" ", problems.Failures!));
                using var chat = DeepSeekChatModel.Load(dir.FullName, options);
                var session = new Session(chat, parse.GetValue(system), parse.GetValue(seed), output, error);
                if (parse.GetValue(prompt) is { } question)
                {
                    await session.AskAsync(question, ct);
                    return 0;
                }
                await session.ReplAsync(input ?? Console.In, interactive: input is null && !Console.IsInputRedirected, ct);
                return 0;
            }
            catch (Exception e) when (e is CheckpointFormatException or ModelConfigException or TokenizerFormatException or ChatTemplateException
                or ContextLengthException or BackendNotSupportedException or IOException or UnauthorizedAccessException or ArgumentException
                or DeepSeek.Interop.Cuda.CudaUnavailableException or DeepSeek.Interop.Cuda.CudaException)
            {
                var message = e is ArgumentException { ParamName: { } p } ? e.Message.Replace($" (Parameter '{p}')", "", StringComparison.Ordinal) : e.Message;
                error.WriteLine($"error: {message}");
                if (parse.GetValue(verbose)) error.WriteLine(e.ToString());
                return 1;
            }
        });
        return command;
    }

    /// <summary>One conversation: history, streaming output, cancellation of the current answer.</summary>
    private sealed class Session(IChatModel model, string? system, long? seed, TextWriter output, TextWriter error)
    {
        private readonly List<ChatMessage> _history = [];
        private readonly bool _terminal = ReferenceEquals(output, Console.Out) && !Console.IsOutputRedirected;

        public async Task ReplAsync(TextReader input, bool interactive, CancellationToken cancellationToken)
        {
            CancellationTokenSource? answer = null;
            void OnCancel(object? sender, ConsoleCancelEventArgs e)
            {
                // Ctrl+C ends the answer being written, not the program.
                if (answer is { } current) { e.Cancel = true; current.Cancel(); }
            }
            if (interactive)
            {
                Console.CancelKeyPress += OnCancel;
                error.WriteLine($"Chatting with {model.Info.Id}. /reset clears the history, /exit quits, Ctrl+C stops an answer.");
            }
            try
            {
                while (!cancellationToken.IsCancellationRequested)
                {
                    if (interactive) { output.Write("> "); output.Flush(); }
                    var line = await input.ReadLineAsync(cancellationToken);
                    if (line is null) break;
                    line = line.Trim();
                    if (line.Length == 0) continue;
                    if (line is "/exit" or "/quit") break;
                    if (line == "/reset")
                    {
                        _history.Clear();
                        output.WriteLine("(history cleared)");
                        continue;
                    }
                    using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                    answer = cts;
                    try
                    {
                        await AskAsync(line, cts.Token);
                    }
                    catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                    {
                        output.WriteLine();
                        error.WriteLine("(cancelled)");
                    }
                    catch (ContextLengthException e)
                    {
                        error.WriteLine($"error: {e.Message}; /reset starts over");
                    }
                    finally
                    {
                        answer = null;
                    }
                }
            }
            finally
            {
                if (interactive) Console.CancelKeyPress -= OnCancel;
            }
        }

        /// <summary>Asks <paramref name="question"/>, streams the answer, keeps both in the history (neither when it fails).</summary>
        public async Task AskAsync(string question, CancellationToken cancellationToken)
        {
            var messages = new List<ChatMessage>();
            if (!string.IsNullOrEmpty(system)) messages.Add(ChatMessage.System(system));
            messages.AddRange(_history);
            messages.Add(ChatMessage.User(question));
            var request = new ChatModelRequest(messages) { Sampling = model.DefaultSampling with { Seed = seed } };
            var text = new System.Text.StringBuilder();
            var reasoning = false;
            await foreach (var update in model.ChatAsync(request, cancellationToken))
            {
                switch (update)
                {
                    case ChatReasoningText r when _terminal:
                        if (!reasoning) output.Write(Dim);
                        reasoning = true;
                        output.Write(r.Text);
                        break;
                    case ChatReasoningText r:
                        error.Write(r.Text);
                        error.Flush();
                        break;
                    case ChatAnswerText a:
                        if (reasoning) output.Write(Undim);
                        reasoning = false;
                        output.Write(a.Text);
                        text.Append(a.Text);
                        break;
                    case ChatToolCallError e:
                        output.Write(e.Raw);
                        text.Append(e.Raw);
                        break;
                }
                output.Flush();
            }
            if (reasoning) output.Write(Undim);
            output.WriteLine();
            _history.Add(ChatMessage.User(question));
            _history.Add(ChatMessage.Assistant(text.ToString()));
        }
    }
}
