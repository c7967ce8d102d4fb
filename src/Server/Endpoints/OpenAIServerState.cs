using System.Security.Cryptography;
using System.Text;
using DeepSeek.Server.Protocol;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;

namespace DeepSeek.Server.Endpoints;

/// <summary>What every request shares: the options, the API-key check and the in-flight request count.</summary>
internal sealed class OpenAIServerState(IOptions<OpenAIServerOptions> options, TimeProvider? time = null)
{
    private readonly byte[]? _apiKey = options.Value.ApiKey is { } key ? Encoding.UTF8.GetBytes(key) : null;
    private int _inFlight;

    public OpenAIServerOptions Options { get; } = options.Value;

    /// <summary>Unix seconds at start-up: the <c>created</c> of every listed model.</summary>
    public long StartedAt { get; } = (time ?? TimeProvider.System).GetUtcNow().ToUnixTimeSeconds();

    /// <summary>Generation requests holding a slot right now.</summary>
    public int InFlight => Volatile.Read(ref _inFlight);

    /// <summary>Throws 401 <c>invalid_api_key</c> unless no key is configured or <c>Authorization: Bearer KEY</c> matches it.</summary>
    public void Authorize(HttpContext context)
    {
        if (_apiKey is null) return;
        var header = context.Request.Headers.Authorization.ToString();
        const string scheme = "Bearer ";
        var given = header.StartsWith(scheme, StringComparison.OrdinalIgnoreCase) ? Encoding.UTF8.GetBytes(header[scheme.Length..].Trim()) : [];
        if (!CryptographicOperations.FixedTimeEquals(given, _apiKey))
        {
            var message = header.Length == 0
                ? "You didn't provide an API key. Send it in the Authorization header as 'Bearer YOUR_KEY'."
                : "Incorrect API key provided.";
            throw new OpenAIRequestException(StatusCodes.Status401Unauthorized, message, "invalid_request_error", null, "invalid_api_key");
        }
    }

    /// <summary>Takes a generation slot or throws 429; dispose the lease to give it back.</summary>
    public SlotLease EnterSlot()
    {
        var n = Interlocked.Increment(ref _inFlight);
        if (Options.MaxConcurrentRequests is { } max && n > max)
        {
            Interlocked.Decrement(ref _inFlight);
            throw new OpenAIRequestException(StatusCodes.Status429TooManyRequests,
                $"The server is busy: {max} requests are already being generated. Retry shortly.", "rate_limit_error", null, "rate_limit_exceeded");
        }
        return new SlotLease(this);
    }

    /// <summary>A held slot.</summary>
    internal readonly struct SlotLease(OpenAIServerState owner) : IDisposable
    {
        public void Dispose() => Interlocked.Decrement(ref owner._inFlight);
    }
}
