using System.Diagnostics;
using System.Diagnostics.Metrics;
using DeepSeek.Runtime.Generation;
using DeepSeek.Runtime.Hosting;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace DeepSeek.Runtime.Tests.Hosting;

/// <summary><c>AddDeepSeek</c>: validation at start-up, configuration binding, keyed models, telemetry.</summary>
public sealed class DeepSeekServiceCollectionTests(TinyChatModelFixture fixture) : IClassFixture<TinyChatModelFixture>
{
    [Fact]
    public async Task A_bad_model_path_fails_at_host_start_with_the_option_named()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddDeepSeek(o => o.ModelPath = "/no/such/model");
        using var host = builder.Build();
        var e = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());
        Assert.Contains("DeepSeekModelOptions.ModelPath '/no/such/model' does not exist", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Bad_values_bound_from_configuration_are_all_reported_at_start()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["DeepSeek:ModelPath"] = fixture.ModelPath,
            ["DeepSeek:Threads"] = "-1",
            ["DeepSeek:MaxConcurrentSequences"] = "0",
            ["DeepSeek:Backend"] = "tpu",
            ["DeepSeek:ContextLength"] = "0",
        });
        builder.Services.AddDeepSeek(builder.Configuration.GetSection("DeepSeek"));
        using var host = builder.Build();
        var e = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());
        Assert.Contains("Threads must be >= 0", e.Message, StringComparison.Ordinal);
        Assert.Contains("MaxConcurrentSequences must be >= 1", e.Message, StringComparison.Ordinal);
        Assert.Contains("Backend must be one of cpu, cuda, got 'tpu'", e.Message, StringComparison.Ordinal);
        Assert.Contains("ContextLength must be >= 2", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("ModelPath", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Without_a_model_path_the_embedded_model_is_served()
    {
        Assert.True(new DeepSeekModelOptionsValidator().Validate(null, new DeepSeekModelOptions()).Succeeded);
        var services = new ServiceCollection();
        services.AddDeepSeek(_ => { });
        using var provider = services.BuildServiceProvider();
        var model = provider.GetRequiredService<IChatModel>();
        Assert.Equal(EmbeddedModel.Name, model.Info.Id);
        Assert.Equal(DeepSeek.Runtime.Tokenization.ChatFormats.DeepSeekR1, model.Info.ChatFormat.Family);
    }

    [Fact]
    public async Task Configuration_section_binds_and_the_model_is_one_singleton()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["DeepSeek:ModelPath"] = fixture.ModelPath,
            ["DeepSeek:ModelId"] = "configured",
            ["DeepSeek:ContextLength"] = "128",
            ["DeepSeek:MaxConcurrentSequences"] = "2",
        });
        builder.Services.AddDeepSeek(builder.Configuration.GetSection("DeepSeek"));
        using var host = builder.Build();
        await host.StartAsync();
        var model = host.Services.GetRequiredService<IChatModel>();
        Assert.Equal("configured", model.Info.Id);
        Assert.Equal(128, model.Info.ContextLength);
        Assert.Equal(2, model.MaxConcurrentSequences);
        var client = host.Services.GetRequiredService<IChatClient>();
        Assert.Same(model, client.GetService<IChatModel>());
        Assert.Same(model, host.Services.GetRequiredService<IChatModel>());
        await host.StopAsync();
    }

    [Fact]
    public async Task Two_keyed_models_coexist()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddKeyedDeepSeek("small", o => { o.ModelPath = fixture.ModelPath; o.ModelId = "small"; o.ContextLength = 64; });
        builder.Services.AddKeyedDeepSeek("large", o => { o.ModelPath = fixture.ModelPath; o.ModelId = "large"; o.ContextLength = 128; });
        using var host = builder.Build();
        await host.StartAsync();
        var small = host.Services.GetRequiredKeyedService<IChatClient>("small");
        var large = host.Services.GetRequiredKeyedService<IChatClient>("large");
        Assert.Equal("small", small.GetService<ChatClientMetadata>()!.DefaultModelId);
        Assert.Equal("large", large.GetService<ChatClientMetadata>()!.DefaultModelId);
        Assert.Equal(64, host.Services.GetRequiredKeyedService<IChatModel>("small").Info.ContextLength);
        Assert.Equal(128, host.Services.GetRequiredKeyedService<IChatModel>("large").Info.ContextLength);
        Assert.Null(host.Services.GetService<IChatClient>());
        var response = await small.GetResponseAsync("hi", new ChatOptions { Temperature = 0, MaxOutputTokens = 2 });
        Assert.Equal("small", response.ModelId);
        await host.StopAsync();
    }

    [Fact]
    public async Task Meter_and_activity_source_report_a_request()
    {
        const string id = "metrics-probe";
        var totals = new Dictionary<string, double>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == DeepSeekDiagnostics.MeterName) l.EnableMeasurementEvents(instrument);
        };
        void Record(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            foreach (var tag in tags)
            {
                if (tag.Key != DeepSeekDiagnostics.ModelTag || (string?)tag.Value != id) continue;
                lock (totals) totals[instrument.Name] = totals.GetValueOrDefault(instrument.Name) + value;
            }
        }
        listener.SetMeasurementEventCallback<long>((i, v, t, _) => Record(i, v, t));
        listener.SetMeasurementEventCallback<double>((i, v, t, _) => Record(i, v, t));
        listener.SetMeasurementEventCallback<int>((i, v, t, _) => Record(i, v, t));
        listener.Start();

        var activities = new List<Activity>();
        using var activityListener = new ActivityListener
        {
            ShouldListenTo = s => s.Name == DeepSeekDiagnostics.ActivitySourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllData,
            ActivityStopped = a => { lock (activities) activities.Add(a); },
        };
        ActivitySource.AddActivityListener(activityListener);

        using var model = DeepSeekChatModel.Load(fixture.ModelPath, new DeepSeekModelOptions { ModelId = id, ContextLength = 64 });
        var tokens = 0;
        await foreach (var _ in model.GenerateAsync([0, 10, 20], SamplingOptions.Greedy with { MaxTokens = 3, StopTokenIds = [] })) tokens++;
        listener.RecordObservableInstruments();

        lock (totals)
        {
            Assert.Equal(tokens, totals.GetValueOrDefault(DeepSeekDiagnostics.TokensGenerated));
            Assert.Equal(3, totals.GetValueOrDefault(DeepSeekDiagnostics.PromptTokens));
            Assert.Equal(1, totals.GetValueOrDefault(DeepSeekDiagnostics.Requests));
            Assert.True(totals.ContainsKey(DeepSeekDiagnostics.TimeToFirstToken));
            Assert.True(totals.ContainsKey(DeepSeekDiagnostics.QueueLength));
        }
        lock (activities)
        {
            var activity = Assert.Single(activities, a => (string?)a.GetTagItem(DeepSeekDiagnostics.ModelTag) == id);
            Assert.Equal($"chat {id}", activity.DisplayName);
            Assert.Equal(tokens, activity.GetTagItem("gen_ai.usage.output_tokens"));
        }
    }
}

public sealed class BackendValidationTests
{
    [Fact]
    public void An_unavailable_backend_fails_validation_not_the_first_request()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("config.json"), "{}");
        var result = new DeepSeek.Runtime.Hosting.DeepSeekModelOptionsValidator().Validate(null, new DeepSeek.Runtime.Hosting.DeepSeekModelOptions { ModelPath = dir.Path, Backend = "cuda" });
        Assert.True(result.Failed);
        Assert.Contains("Backend 'cuda' is not available", result.FailureMessage, StringComparison.Ordinal);
    }
}
