using System.Buffers;
using System.Text.Json;
using System.Text.Unicode;
using DeepSeek.Server.Protocol;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace DeepSeek.Server.Endpoints;

/// <summary>Reads a JSON request body of at most a given size: 413 beyond it, 400 for anything that is not JSON.</summary>
internal static class RequestBody
{
    public static async Task<JsonDocument> ReadJsonAsync(HttpContext context, long limit)
    {
        var request = context.Request;
        if (request.ContentLength > limit) throw TooLarge(limit);
        // Let Kestrel enforce the same limit on chunked bodies (its own default is 30 MB).
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } feature) feature.MaxRequestBodySize = limit;

        var buffer = new ArrayBufferWriter<byte>((int)Math.Min(request.ContentLength ?? 4096, limit) + 1);
        while (true)
        {
            var span = buffer.GetMemory(4096);
            var read = await request.Body.ReadAsync(span, context.RequestAborted);
            if (read == 0) break;
            buffer.Advance(read);
            if (buffer.WrittenCount > limit) throw TooLarge(limit);
        }
        if (buffer.WrittenCount == 0)
            throw OpenAIRequestException.Invalid("The request body is empty: send a JSON object.");
        // JsonDocument accepts bad UTF-8 inside strings and only fails when the string is read; refuse it here.
        if (!Utf8.IsValid(buffer.WrittenSpan))
            throw OpenAIRequestException.Invalid("The request body is not valid UTF-8.", code: "invalid_json");
        try
        {
            return JsonDocument.Parse(buffer.WrittenMemory, new JsonDocumentOptions { MaxDepth = 64 });
        }
        catch (JsonException e)
        {
            throw OpenAIRequestException.Invalid($"We could not parse the JSON body of your request: {e.Message}", code: "invalid_json");
        }
    }

    private static OpenAIRequestException TooLarge(long limit) =>
        new(StatusCodes.Status413PayloadTooLarge, $"The request body is larger than this server's limit of {limit} bytes.",
            "invalid_request_error", null, "request_too_large");
}
