using System.Text.Json;
using DeepSeek.Server.Protocol;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace DeepSeek.Server.Endpoints;

/// <summary><c>GET /v1/models</c> and <c>GET /v1/models/{id}</c>: the configured model ids in OpenAI's shape.</summary>
internal static class ModelsEndpoint
{
    public static async Task ListAsync(HttpContext context)
    {
        var server = context.RequestServices.GetRequiredService<OpenAIServerState>();
        try
        {
            server.Authorize(context);
            await WriteJsonAsync(context, json =>
            {
                json.WriteStartObject();
                json.WriteString("object", "list");
                json.WriteStartArray("data");
                foreach (var id in server.Options.Models.Keys) WriteModel(json, id, server);
                json.WriteEndArray();
                json.WriteEndObject();
            });
        }
        catch (OpenAIRequestException e)
        {
            await OpenAIErrorWriter.WriteAsync(context, e);
        }
    }

    public static async Task GetAsync(HttpContext context)
    {
        var server = context.RequestServices.GetRequiredService<OpenAIServerState>();
        try
        {
            server.Authorize(context);
            var id = context.Request.RouteValues["id"] as string ?? "";
            if (!server.Options.Models.ContainsKey(id))
                throw new OpenAIRequestException(StatusCodes.Status404NotFound, $"The model '{id}' does not exist.", "invalid_request_error", "model", "model_not_found");
            await WriteJsonAsync(context, json => WriteModel(json, id, server));
        }
        catch (OpenAIRequestException e)
        {
            await OpenAIErrorWriter.WriteAsync(context, e);
        }
    }

    /// <summary>404 in OpenAI's shape for any other path under the prefix.</summary>
    public static Task NotFoundAsync(HttpContext context) =>
        OpenAIErrorWriter.WriteAsync(context, StatusCodes.Status404NotFound,
            $"Unknown request URL: {context.Request.Method} {context.Request.Path}.", "invalid_request_error", null, "unknown_url");

    public static Task HealthAsync(HttpContext context) =>
        WriteJsonAsync(context, json =>
        {
            json.WriteStartObject();
            json.WriteString("status", "ok");
            json.WriteEndObject();
        });

    private static void WriteModel(Utf8JsonWriter json, string id, OpenAIServerState server)
    {
        json.WriteStartObject();
        json.WriteString("id", id);
        json.WriteString("object", "model");
        json.WriteNumber("created", server.StartedAt);
        json.WriteString("owned_by", server.Options.OwnedBy);
        json.WriteEndObject();
    }

    private static async Task WriteJsonAsync(HttpContext context, Action<Utf8JsonWriter> write)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer)) write(json);
        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentType = "application/json";
        await context.Response.Body.WriteAsync(buffer.ToArray(), context.RequestAborted);
    }
}
