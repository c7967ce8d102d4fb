using System.CommandLine;
using DeepSeek.Runtime.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace DeepSeek.Cli.Commands;

/// <summary>
/// <c>deepseek serve --model DIR [--urls URL] [--api-key KEY] [--model-id ID] [--threads N] [--backend cpu|cuda] [--context N] [--max-concurrent N] [--expert-parallel E]</c>:
/// the OpenAI-compatible server (<c>/v1/chat/completions</c>, <c>/v1/completions</c>, <c>/v1/models</c>, <c>/health</c>)
/// over one model, until Ctrl+C. With <c>--expert-parallel E</c> under <c>mpirun -np E</c> the routed experts are sharded
/// over the ranks (<see cref="ServeExpertParallel"/>).
/// </summary>
internal static class ServeCommand
{
    public static Command Create()
    {
        var model = new Option<DirectoryInfo>("--model", "-m") { Description = "Checkpoint folder (with tokenizer.json and tokenizer_config.json).", Required = true };
        var urls = new Option<string>("--urls") { Description = "Addresses to listen on.", DefaultValueFactory = _ => "http://127.0.0.1:8000" };
        var apiKey = new Option<string?>("--api-key") { Description = "Require 'Authorization: Bearer KEY' (default: the DEEPSEEK_API_KEY variable, else no key)." };
        var modelId = new Option<string?>("--model-id") { Description = "Model id clients send (default: the folder name)." };
        var threads = new Option<int>("--threads", "-t") { Description = "CPU threads (0 = all cores)." };
        var backend = CliOptions.Backend();
        var context = new Option<int>("--context") { Description = "Context length per request.", DefaultValueFactory = _ => 4096 };
        var concurrent = new Option<int>("--max-concurrent") { Description = "Requests generating at once (others queue).", DefaultValueFactory = _ => 4 };
        var expertParallel = new Option<int>("--expert-parallel")
        {
            Description = "Shard the routed experts over E MPI ranks (start under mpirun -np E; E must divide n_routed_experts). Rank 0 serves HTTP.",
            DefaultValueFactory = _ => 1,
        };
        var verbose = CliOptions.Verbose();
        var command = new Command("serve", "Serve a model over an OpenAI-compatible HTTP API.") { model, urls, apiKey, modelId, threads, backend, context, concurrent, expertParallel, verbose };
        command.SetAction(async (parse, ct) =>
        {
            var error = parse.InvocationConfiguration.Error;
            try
            {
                var dir = parse.GetRequiredValue(model).FullName;
                var settings = new ServeSettings(
                    dir, parse.GetValue(modelId) ?? Path.GetFileName(dir.TrimEnd(Path.DirectorySeparatorChar)), parse.GetRequiredValue(urls),
                    parse.GetValue(apiKey) ?? Environment.GetEnvironmentVariable("DEEPSEEK_API_KEY"), parse.GetValue(threads), parse.GetValue(backend) ?? "cpu",
                    parse.GetValue(context), parse.GetValue(concurrent));
                var experts = parse.GetValue(expertParallel);
                if (experts < 1) throw new ArgumentException($"--expert-parallel must be at least 1, not {experts}");
                if (experts > 1) return await ServeExpertParallel.RunAsync(settings, experts, parse.InvocationConfiguration.Output, error, parse.GetValue(verbose), ct);

                await using var app = Build(settings);
                await RunAsync(app, settings, parse.InvocationConfiguration.Output, "", ct);
                return 0;
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return 0;
            }
            catch (Exception e) when (CliErrors.TryReport(error, parse.GetValue(verbose), e))
            {
                return 1;
            }
        });
        return command;
    }

    /// <summary>The server over <paramref name="settings"/>; <paramref name="services"/> may replace registrations (the chat model).</summary>
    internal static WebApplication Build(ServeSettings settings, Action<IServiceCollection>? services = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls(settings.Urls);
        builder.Services.AddDeepSeek(o =>
        {
            o.ModelPath = settings.ModelDirectory;
            o.ModelId = settings.ModelId;
            o.Threads = settings.Threads;
            o.Backend = settings.Backend;
            o.ContextLength = settings.ContextLength;
            o.MaxConcurrentSequences = settings.MaxConcurrent;
        });
        builder.Services.AddOpenAIServer(o =>
        {
            o.AddModel(settings.ModelId);
            o.ApiKey = settings.ApiKey;
        });
        services?.Invoke(builder.Services);
        var app = builder.Build();
        app.MapOpenAIEndpoints();
        return app;
    }

    /// <summary>Loads the model, starts listening, prints the serving line (plus <paramref name="note"/>) and waits for Ctrl+C or host stop.</summary>
    internal static async Task RunAsync(WebApplication app, ServeSettings settings, TextWriter output, string note, CancellationToken ct)
    {
        _ = app.Services.GetRequiredService<IChatModel>();   // load now: a broken model fails here, not at the first request
        await app.StartAsync(ct);
        output.WriteLine($"serving '{settings.ModelId}' on {string.Join(", ", app.Urls)} (OpenAI-compatible: /v1/chat/completions, /v1/completions, /v1/models, /health){note}");
        await app.WaitForShutdownAsync(ct);
    }
}
