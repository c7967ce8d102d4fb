using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace DeepSeek.Server.Protocol;

/// <summary>Server-sent events as OpenAI streams them: <c>data: JSON\n\n</c> per event, flushed at once, then <c>data: [DONE]</c>.</summary>
internal sealed class SseWriter
{
    private static readonly byte[] Prefix = "data: "u8.ToArray();
    private static readonly byte[] Separator = "\n\n"u8.ToArray();
    private static readonly byte[] Done = "data: [DONE]\n\n"u8.ToArray();
    private readonly HttpResponse _response;
    private readonly CancellationToken _cancellationToken;

    public SseWriter(HttpContext context)
    {
        _response = context.Response;
        _cancellationToken = context.RequestAborted;
        _response.StatusCode = StatusCodes.Status200OK;
        _response.ContentType = "text/event-stream";
        _response.Headers.CacheControl = "no-cache";
        // Reverse proxies (nginx) buffer responses unless told not to; tokens must reach the client as they come.
        _response.Headers["X-Accel-Buffering"] = "no";
        context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
    }

    public async Task WriteAsync(byte[] json)
    {
        await _response.Body.WriteAsync(Prefix, _cancellationToken);
        await _response.Body.WriteAsync(json, _cancellationToken);
        await _response.Body.WriteAsync(Separator, _cancellationToken);
        await _response.Body.FlushAsync(_cancellationToken);
    }

    public async Task WriteDoneAsync()
    {
        await _response.Body.WriteAsync(Done, _cancellationToken);
        await _response.Body.FlushAsync(_cancellationToken);
    }
}
