using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace DeepSeek.Server.Protocol;

/// <summary>Writes OpenAI's error body: <c>{"error":{"message","type","param","code"}}</c>.</summary>
internal static class OpenAIErrorWriter
{
    public static Task WriteAsync(HttpContext context, OpenAIRequestException error) =>
        WriteAsync(context, error.StatusCode, error.Message, error.Type, error.Param, error.Code);

    public static async Task WriteAsync(HttpContext context, int statusCode, string message, string type, string? param, string? code)
    {
        var response = context.Response;
        if (response.HasStarted) return;
        response.StatusCode = statusCode;
        response.ContentType = "application/json";
        await response.Body.WriteAsync(ToJson(message, type, param, code), context.RequestAborted);
    }

    /// <summary>The error object as UTF-8 JSON (also sent as an SSE event when a stream fails midway).</summary>
    public static byte[] ToJson(string message, string type, string? param, string? code)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteStartObject("error");
            json.WriteString("message", message);
            json.WriteString("type", type);
            WriteNullable(json, "param", param);
            WriteNullable(json, "code", code);
            json.WriteEndObject();
            json.WriteEndObject();
        }
        return buffer.ToArray();
    }

    private static void WriteNullable(Utf8JsonWriter json, string name, string? value)
    {
        if (value is null) json.WriteNull(name);
        else json.WriteString(name, value);
    }
}
