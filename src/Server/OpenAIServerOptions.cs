namespace DeepSeek.Server;

/// <summary>
/// Settings of the OpenAI-compatible endpoints mapped by
/// <see cref="Microsoft.AspNetCore.Builder.OpenAIEndpointRouteBuilderExtensions.MapOpenAIEndpoints"/>.
/// </summary>
public sealed class OpenAIServerOptions
{
    /// <summary>
    /// The key clients must send as <c>Authorization: Bearer KEY</c>; <see langword="null"/> (the default) serves
    /// without authentication. <c>/health</c> never asks for it.
    /// </summary>
    public string? ApiKey { get; set; }

    /// <summary>Largest request body accepted, in bytes; larger bodies get 413. Default 1 MiB.</summary>
    public long MaxRequestBodyBytes { get; set; } = 1024 * 1024;

    /// <summary>
    /// Generation requests allowed in flight at once; one more is answered 429 (OpenAI's
    /// <c>rate_limit_exceeded</c>, which the official clients retry with back-off). <see langword="null"/> (the
    /// default) sets no limit.
    /// </summary>
    public int? MaxConcurrentRequests { get; set; }

    /// <summary>The <c>owned_by</c> value listed for every model by <c>GET /v1/models</c>.</summary>
    public string OwnedBy { get; set; } = "deepseek-runtime";

    /// <summary>
    /// The model ids clients may name in <c>"model"</c>, each mapped to the service key of the keyed
    /// <c>IChatClient</c> that serves it (<see langword="null"/> = the unkeyed <c>IChatClient</c>). Ids are
    /// compared ordinally; at least one is required.
    /// </summary>
    public IDictionary<string, object?> Models { get; } = new Dictionary<string, object?>(StringComparer.Ordinal);

    /// <summary>Adds (or replaces) a model id served by the <c>IChatClient</c> registered under <paramref name="serviceKey"/>.</summary>
    /// <param name="id">The id clients send as <c>"model"</c>, e.g. <c>deepseek-chat</c>.</param>
    /// <param name="serviceKey">The keyed-service key of its <c>IChatClient</c>; <see langword="null"/> for the unkeyed one.</param>
    /// <returns>These options, for chaining.</returns>
    public OpenAIServerOptions AddModel(string id, object? serviceKey = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(id);
        Models[id] = serviceKey;
        return this;
    }

    /// <summary>Throws <see cref="InvalidOperationException"/> naming the first setting that cannot work.</summary>
    internal void Validate()
    {
        if (Models.Count == 0)
            throw new InvalidOperationException("OpenAIServerOptions.Models is empty: add at least one model id (options.AddModel(\"deepseek-chat\", serviceKey)).");
        if (MaxRequestBodyBytes < 1)
            throw new InvalidOperationException($"OpenAIServerOptions.MaxRequestBodyBytes must be positive (got {MaxRequestBodyBytes}).");
        if (MaxConcurrentRequests is < 1)
            throw new InvalidOperationException($"OpenAIServerOptions.MaxConcurrentRequests must be at least 1 or null (got {MaxConcurrentRequests}).");
        if (ApiKey is { Length: 0 })
            throw new InvalidOperationException("OpenAIServerOptions.ApiKey is empty: use null to serve without authentication.");
    }
}
