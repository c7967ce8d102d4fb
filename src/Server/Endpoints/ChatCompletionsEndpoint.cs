using DeepSeek.Runtime.Generation;
using DeepSeek.Server.Protocol;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace DeepSeek.Server.Endpoints;

/// <summary><c>POST /v1/chat/completions</c> over the <see cref="IChatClient"/> the requested model id maps to.</summary>
internal static class ChatCompletionsEndpoint
{
    public static Task HandleAsync(HttpContext context) => RunAsync(context, async (server, body) =>
    {
        var request = ChatRequestParser.Parse(body);
        var client = ResolveClient(context.RequestServices, server.Options, request.Model);
        using var slot = server.EnterSlot();
        if (request.Stream) await StreamAsync(context, client, request);
        else await CompleteAsync(context, client, request);
    });

    /// <summary>
    /// The request pipeline every API endpoint shares: API key, body within the size limit as JSON, then
    /// <paramref name="handle"/>; failures become OpenAI-shaped errors, and a client that went away gets no answer
    /// (its generation was cancelled through <c>RequestAborted</c>).
    /// </summary>
    internal static async Task RunAsync(HttpContext context, Func<OpenAIServerState, System.Text.Json.JsonElement, Task> handle)
    {
        var server = context.RequestServices.GetRequiredService<OpenAIServerState>();
        var aborted = context.RequestAborted;
        try
        {
            server.Authorize(context);
            using var body = await RequestBody.ReadJsonAsync(context, server.Options.MaxRequestBodyBytes);
            await handle(server, body.RootElement);
        }
        catch (Exception) when (aborted.IsCancellationRequested)
        {
            // The client went away: nobody is left to answer.
        }
        catch (Exception e)
        {
            await FailAsync(context, e);
        }
    }

    private static async Task CompleteAsync(HttpContext context, IChatClient client, ChatCompletionRequest request)
    {
        var response = await client.GetResponseAsync(request.Messages, request.Options, context.RequestAborted);
        var json = ChatCompletionWriter.ToJson(response, ResponseJson.NewCompletionId(), Now(), request.Model);
        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentType = "application/json";
        await context.Response.Body.WriteAsync(json, context.RequestAborted);
    }

    private static async Task StreamAsync(HttpContext context, IChatClient client, ChatCompletionRequest request)
    {
        var aborted = context.RequestAborted;
        await using var updates = client.GetStreamingResponseAsync(request.Messages, request.Options, aborted).GetAsyncEnumerator(aborted);
        // Wait for the first update before sending headers, so a request that fails at once (a prompt over the
        // context) still gets its 4xx status instead of a 200 stream that breaks.
        var more = await updates.MoveNextAsync();
        var chunks = new ChatChunkWriter(ResponseJson.NewCompletionId(), Now(), request.Model);
        var sse = new SseWriter(context);
        await sse.WriteAsync(chunks.RoleChunk());
        while (more)
        {
            if (chunks.Delta(updates.Current) is { } chunk) await sse.WriteAsync(chunk);
            more = await updates.MoveNextAsync();
        }
        await sse.WriteAsync(chunks.FinishChunk());
        if (request.IncludeUsage) await sse.WriteAsync(chunks.UsageChunk());
        await sse.WriteDoneAsync();
    }

    private static IChatClient ResolveClient(IServiceProvider services, OpenAIServerOptions options, string model)
    {
        if (!options.Models.TryGetValue(model, out var key))
            throw OpenAIRequestException.Invalid($"The model '{model}' does not exist. Available: {string.Join(", ", options.Models.Keys)}.", "model", "model_not_found");
        var client = key is null ? services.GetService<IChatClient>() : services.GetKeyedService<IChatClient>(key);
        return client ?? throw new InvalidOperationException(
            $"Model '{model}' maps to {(key is null ? "the unkeyed IChatClient" : $"the IChatClient keyed '{key}'")}, which is not registered.");
    }

    /// <summary>Client mistakes become 4xx in OpenAI's shape; anything else is logged and answered 500.</summary>
    internal static async Task FailAsync(HttpContext context, Exception e)
    {
        var error = e switch
        {
            OpenAIRequestException r => r,
            ContextLengthException c => OpenAIRequestException.Invalid(
                $"This model's maximum context length is {c.Limit} tokens, but {c.Requested} tokens were requested: {c.Message}", "messages", "context_length_exceeded"),
            BadHttpRequestException b => new OpenAIRequestException(b.StatusCode, b.Message, "invalid_request_error", null, null),
            ArgumentException a => OpenAIRequestException.Invalid(a.Message, a.ParamName),
            _ => null,
        };
        if (error is null)
        {
            context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(ChatCompletionsEndpoint).FullName!)
                .LogError(e, "Chat completion failed");
            error = new OpenAIRequestException(StatusCodes.Status500InternalServerError,
                "The server had an error while processing your request.", "server_error", null, null);
        }
        if (!context.Response.HasStarted)
        {
            await OpenAIErrorWriter.WriteAsync(context, error);
            return;
        }
        // Mid-stream: the status is gone, so send the error as a last event and end without [DONE].
        var sse = OpenAIErrorWriter.ToJson(error.Message, error.Type, error.Param, error.Code);
        try
        {
            await context.Response.Body.WriteAsync("data: "u8.ToArray());
            await context.Response.Body.WriteAsync(sse);
            await context.Response.Body.WriteAsync("\n\n"u8.ToArray());
            await context.Response.Body.FlushAsync();
        }
        catch (IOException)
        {
            // The connection broke while reporting; there is no one to tell.
        }
    }

    internal static long Now() => DateTimeOffset.UtcNow.ToUnixTimeSeconds();
}
