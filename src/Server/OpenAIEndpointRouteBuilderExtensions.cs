using DeepSeek.Server;
using DeepSeek.Server.Endpoints;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Maps the OpenAI-compatible endpoints.</summary>
public static class OpenAIEndpointRouteBuilderExtensions
{
    /// <summary>
    /// Maps <c>POST {prefix}/chat/completions</c>, <c>POST {prefix}/completions</c> (needs an <c>IChatModel</c> under the same key), <c>GET {prefix}/models</c>, <c>GET {prefix}/models/{id}</c>, an
    /// OpenAI-shaped 404 for any other path under <paramref name="prefix"/>, and <c>GET /health</c> (no API key).
    /// Requires <see cref="OpenAIServerServiceCollectionExtensions.AddOpenAIServer"/>; the options are checked here,
    /// so a server that cannot work fails at start-up rather than on its first request.
    /// </summary>
    /// <param name="endpoints">The application's route builder.</param>
    /// <param name="prefix">Path prefix of the API; OpenAI clients expect <c>/v1</c> after the base address.</param>
    /// <returns>The group of API endpoints under <paramref name="prefix"/> (not <c>/health</c>), to add conventions to.</returns>
    public static RouteGroupBuilder MapOpenAIEndpoints(this IEndpointRouteBuilder endpoints, string prefix = "/v1")
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentNullException.ThrowIfNull(prefix);
        var options = endpoints.ServiceProvider.GetService<IOptions<OpenAIServerOptions>>();
        if (options is null || endpoints.ServiceProvider.GetService<OpenAIServerState>() is null)
            throw new InvalidOperationException("Call services.AddOpenAIServer(...) before MapOpenAIEndpoints().");
        options.Value.Validate();

        var api = endpoints.MapGroup(prefix);
        api.MapPost("/chat/completions", ChatCompletionsEndpoint.HandleAsync);
        api.MapPost("/completions", CompletionsEndpoint.HandleAsync);
        api.MapGet("/models", ModelsEndpoint.ListAsync);
        api.MapGet("/models/{id}", ModelsEndpoint.GetAsync);
        api.Map("/{**path}", ModelsEndpoint.NotFoundAsync);
        endpoints.MapGet("/health", ModelsEndpoint.HealthAsync);
        return api;
    }
}
