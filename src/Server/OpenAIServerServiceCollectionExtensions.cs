using DeepSeek.Server;
using DeepSeek.Server.Endpoints;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the OpenAI-compatible server's services.</summary>
public static class OpenAIServerServiceCollectionExtensions
{
    /// <summary>
    /// Adds what <see cref="Microsoft.AspNetCore.Builder.OpenAIEndpointRouteBuilderExtensions.MapOpenAIEndpoints"/>
    /// needs. The <c>IChatClient</c>s themselves are registered separately (keyed by the service keys named in
    /// <see cref="OpenAIServerOptions.Models"/>).
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configure">Sets the API key, the model ids and the limits.</param>
    /// <returns><paramref name="services"/>, for chaining.</returns>
    public static IServiceCollection AddOpenAIServer(this IServiceCollection services, Action<OpenAIServerOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        services.AddOptions<OpenAIServerOptions>().Configure(configure);
        services.TryAddSingleton<OpenAIServerState>();
        return services;
    }
}
