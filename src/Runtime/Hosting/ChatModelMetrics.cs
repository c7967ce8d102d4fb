using System.Diagnostics.Metrics;
using DeepSeek.Runtime.Generation;

namespace DeepSeek.Runtime.Hosting;

/// <summary>The instruments of one model, on a meter named <see cref="DeepSeekDiagnostics.MeterName"/>.</summary>
internal sealed class ChatModelMetrics : IDisposable
{
    private readonly Meter _meter;
    private readonly bool _ownsMeter;
    private readonly KeyValuePair<string, object?> _model;
    private readonly Counter<long> _generated, _prompt, _requests, _drafted, _accepted;
    private readonly Histogram<double> _timeToFirstToken, _decodeRate;

    public ChatModelMetrics(ChatModelBase model, string modelId, IMeterFactory? factory)
    {
        _ownsMeter = factory is null;
        _meter = factory?.Create(new MeterOptions(DeepSeekDiagnostics.MeterName)) ?? new Meter(DeepSeekDiagnostics.MeterName);
        _model = new(DeepSeekDiagnostics.ModelTag, modelId);
        _generated = _meter.CreateCounter<long>(DeepSeekDiagnostics.TokensGenerated, "{token}", "Tokens generated");
        _prompt = _meter.CreateCounter<long>(DeepSeekDiagnostics.PromptTokens, "{token}", "Prompt tokens processed");
        _drafted = _meter.CreateCounter<long>(DeepSeekDiagnostics.MtpDraftedTokens, "{token}", "MTP draft tokens verified by the main model");
        _accepted = _meter.CreateCounter<long>(DeepSeekDiagnostics.MtpAcceptedTokens, "{token}", "MTP draft tokens the main model accepted");
        _requests = _meter.CreateCounter<long>(DeepSeekDiagnostics.Requests, "{request}", "Requests finished");
        _timeToFirstToken = _meter.CreateHistogram<double>(DeepSeekDiagnostics.TimeToFirstToken, "s", "Time from the start of generation to the first token");
        _decodeRate = _meter.CreateHistogram<double>(DeepSeekDiagnostics.DecodeTokensPerSecond, "{token}/s", "Decode speed after the first token");
        _meter.CreateObservableGauge(DeepSeekDiagnostics.QueueLength, () => new Measurement<int>(model.QueueLength, _model), "{request}", "Requests waiting for a slot");
        _meter.CreateObservableGauge(DeepSeekDiagnostics.ActiveRequests, () => new Measurement<int>(model.ActiveRequests, _model), "{request}", "Requests generating");
        _meter.CreateObservableCounter(DeepSeekDiagnostics.BatchSteps, () => Batching(model, s => s.Steps), "{step}", "Forward passes of the batch scheduler");
        _meter.CreateObservableGauge(DeepSeekDiagnostics.KvCacheBytesInUse, () => Batching(model, s => s.BytesInUse), "By", "KV cache bytes holding tokens");
        _meter.CreateObservableGauge(DeepSeekDiagnostics.KvCacheCapacityBytes, () => Batching(model, s => s.CapacityBytes), "By", "KV cache bytes allocated");
    }

    /// <summary>One measurement from the model's batch scheduler, none for a model without one (or before its first request).</summary>
    private IEnumerable<Measurement<long>> Batching(ChatModelBase model, Func<BatchSchedulerStats, long> value) =>
        model.BatchingStats is { } stats ? [new Measurement<long>(value(stats), _model)] : [];

    public void Prompt(int tokens) => _prompt.Add(tokens, _model);

    public void Token() => _generated.Add(1, _model);

    public void FirstToken(TimeSpan elapsed) => _timeToFirstToken.Record(elapsed.TotalSeconds, _model);

    public void Finished(string reason, int generated, TimeSpan decode, SpeculationStats speculation)
    {
        if (speculation.Drafted > 0)
        {
            _drafted.Add(speculation.Drafted, _model);
            _accepted.Add(speculation.Accepted, _model);
        }
        _requests.Add(1, _model, new("deepseek.finish_reason", reason));
        if (generated > 1 && decode > TimeSpan.Zero) _decodeRate.Record((generated - 1) / decode.TotalSeconds, _model);
    }

    public void Dispose()
    {
        if (_ownsMeter) _meter.Dispose();
    }
}
