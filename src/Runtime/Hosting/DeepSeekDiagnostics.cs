using System.Diagnostics;

namespace DeepSeek.Runtime.Hosting;

/// <summary>
/// Names under which the runtime publishes telemetry. With OpenTelemetry:
/// <c>.WithMetrics(m =&gt; m.AddMeter(DeepSeekDiagnostics.MeterName))</c> and
/// <c>.WithTracing(t =&gt; t.AddSource(DeepSeekDiagnostics.ActivitySourceName))</c> (both <c>"DeepSeek.Runtime"</c>).
/// </summary>
public static class DeepSeekDiagnostics
{
    /// <summary>Name of the <see cref="System.Diagnostics.Metrics.Meter"/>.</summary>
    public const string MeterName = "DeepSeek.Runtime";

    /// <summary>Name of the <see cref="ActivitySource"/>; one activity (<c>chat MODEL</c>) per request.</summary>
    public const string ActivitySourceName = "DeepSeek.Runtime";

    /// <summary>Counter of generated tokens ({token}).</summary>
    public const string TokensGenerated = "deepseek.tokens.generated";

    /// <summary>Counter of prompt tokens ({token}).</summary>
    public const string PromptTokens = "deepseek.tokens.prompt";

    /// <summary>Counter of finished requests ({request}), tagged with <c>deepseek.finish_reason</c>.</summary>
    public const string Requests = "deepseek.requests";

    /// <summary>Histogram of time from request start (after queueing) to the first token (s).</summary>
    public const string TimeToFirstToken = "deepseek.time_to_first_token";

    /// <summary>Histogram of decode speed after the first token ({token}/s).</summary>
    public const string DecodeTokensPerSecond = "deepseek.decode.tokens_per_second";

    /// <summary>Counter of MTP draft tokens the main model verified ({token}); with <see cref="MtpAcceptedTokens"/> it gives the acceptance rate.</summary>
    public const string MtpDraftedTokens = "deepseek.mtp.drafted_tokens";

    /// <summary>Counter of MTP draft tokens the main model accepted ({token}): each saved one main-model step.</summary>
    public const string MtpAcceptedTokens = "deepseek.mtp.accepted_tokens";

    /// <summary>Observable gauge of requests waiting for a slot ({request}).</summary>
    public const string QueueLength = "deepseek.queue.length";

    /// <summary>Observable gauge of requests generating ({request}).</summary>
    public const string ActiveRequests = "deepseek.requests.active";

    /// <summary>Observable counter of the batch scheduler's forward passes ({step}); with <see cref="TokensGenerated"/> it shows how many requests shared a step.</summary>
    public const string BatchSteps = "deepseek.batch.steps";

    /// <summary>Observable gauge of KV cache bytes holding tokens (By).</summary>
    public const string KvCacheBytesInUse = "deepseek.kv_cache.bytes_in_use";

    /// <summary>Observable gauge of KV cache bytes allocated (By): every slot at the full context.</summary>
    public const string KvCacheCapacityBytes = "deepseek.kv_cache.capacity_bytes";

    /// <summary>Tag carrying the model id on every measurement.</summary>
    public const string ModelTag = "gen_ai.request.model";

    internal static readonly ActivitySource ActivitySource = new(ActivitySourceName, typeof(DeepSeekDiagnostics).Assembly.GetName().Version?.ToString());
}
