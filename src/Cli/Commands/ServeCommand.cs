using System.CommandLine;
using DeepSeek.Runtime.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace DeepSeek.Cli.Commands;

/// <summary>
/// <c>deepseek serve --model DIR [--urls URL] [--api-key KEY] [--model-id ID] [--threads N] [--backend cpu|cuda] [--context N] [--max-concurrent N]</c>:
/// the OpenAI-compatible server (<c>/v1/chat/completions</c>, <c>/v1/completions</c>, <c>/v1/models</c>, <c>/health</c>)
/// over one model, until Ctrl+C.
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
        var verbose = CliOptions.Verbose();
        var command = new Command("serve", "Serve a model over an OpenAI-compatible HTTP API.") { model, urls, apiKey, modelId, threads, backend, context, concurrent, verbose };
        command.SetAction(async (parse, ct) =>
        {
            var error = parse.InvocationConfiguration.Error;
            try
            {
                var dir = parse.GetRequiredValue(model).FullName;
                var id = parse.GetValue(modelId) ?? Path.GetFileName(dir.TrimEnd(Path.DirectorySeparatorChar));
                var builder = WebApplication.CreateSlimBuilder();
                builder.WebHost.UseUrls(parse.GetRequiredValue(urls));
                builder.Services.AddDeepSeek(o =>
                {
                    o.ModelPath = dir;
                    o.ModelId = id;
                    o.Threads = parse.GetValue(threads);
                    o.Backend = parse.GetValue(backend) ?? "cpu";
                    o.ContextLength = parse.GetValue(context);
                    o.MaxConcurrentSequences = parse.GetValue(concurrent);
                });
                builder.Services.AddOpenAIServer(o =>
                {
                    o.AddModel(id);
                    o.ApiKey = parse.GetValue(apiKey) ?? Environment.GetEnvironmentVariable("DEEPSEEK_API_KEY");
                });
                await using var app = builder.Build();
                app.MapOpenAIEndpoints();
                _ = app.Services.GetRequiredService<IChatModel>();   // load now: a broken model fails here, not at the first request
                await app.StartAsync(ct);
                parse.InvocationConfiguration.Output.WriteLine($"serving '{id}' on {string.Join(", ", app.Urls)} (OpenAI-compatible: /v1/chat/completions, /v1/completions, /v1/models, /health)");
                await app.WaitForShutdownAsync(ct);
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
}
