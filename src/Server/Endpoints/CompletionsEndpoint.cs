using System.Text;
using System.Text.Json;
using DeepSeek.Runtime.Generation;
using DeepSeek.Runtime.Hosting;
using DeepSeek.Server.Protocol;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace DeepSeek.Server.Endpoints;

/// <summary>
/// <c>POST /v1/completions</c> (OpenAI's legacy text completions): the raw prompt, no chat template, through the
/// <see cref="IChatModel"/> registered under the same key as the model id's <c>IChatClient</c>.
/// </summary>
internal static class CompletionsEndpoint
{
    public static Task HandleAsync(HttpContext context) => ChatCompletionsEndpoint.RunAsync(context, async (server, body) =>
    {
        var aborted = context.RequestAborted;
        var request = CompletionRequest.Parse(body);
        var model = ResolveModel(context.RequestServices, server.Options, request.Model);
        var prompt = request.PromptTokens ?? [.. model.Info.Tokenizer.Encode(request.PromptText!, addSpecialTokens: true)];
        var vocab = model.Info.Config.VocabSize;
        foreach (var id in prompt)
            if ((uint)id >= (uint)vocab) throw OpenAIRequestException.Invalid($"Token id {id} is outside the vocabulary [0, {vocab}).", "prompt");
        using var slot = server.EnterSlot();
        await using var tokens = model.GenerateAsync(prompt, request.Sampling, aborted).GetAsyncEnumerator(aborted);
        // First token before headers, so a prompt over the context still gets its 400.
        var more = await tokens.MoveNextAsync();
        var id0 = "cmpl-" + Guid.NewGuid().ToString("N");
        var created = ChatCompletionsEndpoint.Now();
        if (request.Stream) await StreamAsync(context, request, tokens, more, id0, created, prompt.Length);
        else await CompleteAsync(context, request, tokens, more, id0, created, prompt.Length);
    });

    private static async Task CompleteAsync(HttpContext context, CompletionRequest request, IAsyncEnumerator<GeneratedTextToken> tokens, bool more,
        string id, long created, int promptTokens)
    {
        var text = new StringBuilder();
        var count = 0;
        FinishReason? finish = null;
        while (more)
        {
            count++;
            text.Append(tokens.Current.Text);
            finish = tokens.Current.Finish ?? finish;
            more = await tokens.MoveNextAsync();
        }
        var json = Json(w =>
        {
            Header(w, id, created, request.Model);
            w.WriteStartArray("choices");
            Choice(w, text.ToString(), finish);
            w.WriteEndArray();
            Usage(w, promptTokens, count);
        });
        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentType = "application/json";
        await context.Response.Body.WriteAsync(json, context.RequestAborted);
    }

    private static async Task StreamAsync(HttpContext context, CompletionRequest request, IAsyncEnumerator<GeneratedTextToken> tokens, bool more,
        string id, long created, int promptTokens)
    {
        var sse = new SseWriter(context);
        var count = 0;
        while (more)
        {
            count++;
            var token = tokens.Current;
            await sse.WriteAsync(Json(w =>
            {
                Header(w, id, created, request.Model);
                w.WriteStartArray("choices");
                Choice(w, token.Text, token.Finish);
                w.WriteEndArray();
            }));
            more = await tokens.MoveNextAsync();
        }
        if (request.IncludeUsage)
            await sse.WriteAsync(Json(w =>
            {
                Header(w, id, created, request.Model);
                w.WriteStartArray("choices");
                w.WriteEndArray();
                Usage(w, promptTokens, count);
            }));
        await sse.WriteDoneAsync();
    }

    private static IChatModel ResolveModel(IServiceProvider services, OpenAIServerOptions options, string model)
    {
        if (!options.Models.TryGetValue(model, out var key))
            throw OpenAIRequestException.Invalid($"The model '{model}' does not exist. Available: {string.Join(", ", options.Models.Keys)}.", "model", "model_not_found");
        var chatModel = key is null ? services.GetService<IChatModel>() : services.GetKeyedService<IChatModel>(key);
        return chatModel ?? throw OpenAIRequestException.Invalid($"The model '{model}' does not support text completions (no IChatModel is registered for it).", "model", "unsupported_model");
    }

    private static byte[] Json(Action<Utf8JsonWriter> body)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            body(w);
            w.WriteEndObject();
        }
        return buffer.ToArray();
    }

    private static void Header(Utf8JsonWriter w, string id, long created, string model)
    {
        w.WriteString("id", id);
        w.WriteString("object", "text_completion");
        w.WriteNumber("created", created);
        w.WriteString("model", model);
    }

    private static void Choice(Utf8JsonWriter w, string text, FinishReason? finish)
    {
        w.WriteStartObject();
        w.WriteNumber("index", 0);
        w.WriteString("text", text);
        w.WriteNull("logprobs");
        if (finish is null) w.WriteNull("finish_reason");
        else w.WriteString("finish_reason", finish == FinishReason.Length ? "length" : "stop");
        w.WriteEndObject();
    }

    private static void Usage(Utf8JsonWriter w, int prompt, int completion)
    {
        w.WriteStartObject("usage");
        w.WriteNumber("prompt_tokens", prompt);
        w.WriteNumber("completion_tokens", completion);
        w.WriteNumber("total_tokens", prompt + completion);
        w.WriteEndObject();
    }
}
