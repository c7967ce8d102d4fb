using System.Diagnostics.Metrics;
using DeepSeek.Runtime.Hosting;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// Registers a DeepSeek model as a singleton <see cref="IChatModel"/> and <see cref="IChatClient"/>.
/// Options are validated by <see cref="DeepSeekModelOptionsValidator"/> at host start-up (<c>ValidateOnStart</c>), so a bad
/// path fails <c>IHost.StartAsync</c> with a message naming the option; the model itself loads once, on first resolve.
/// Telemetry: meter and activity source <c>"DeepSeek.Runtime"</c> (<see cref="DeepSeekDiagnostics"/>), e.g.
/// <c>builder.Services.AddOpenTelemetry().WithMetrics(m =&gt; m.AddMeter("DeepSeek.Runtime"))</c>.
/// </summary>
public static class DeepSeekServiceCollectionExtensions
{
    /// <summary>Registers the model configured by <paramref name="configure"/>.</summary>
    public static IServiceCollection AddDeepSeek(this IServiceCollection services, Action<DeepSeekModelOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        return Add(services, serviceKey: null, b => b.Configure(configure));
    }

    /// <summary>Registers the model bound from <paramref name="configuration"/> (e.g. <c>configuration.GetSection("DeepSeek")</c>).</summary>
    public static IServiceCollection AddDeepSeek(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        return Add(services, serviceKey: null, b => b.Bind(configuration));
    }

    /// <summary>Registers a model as keyed services under <paramref name="serviceKey"/>, so several models can coexist.</summary>
    public static IServiceCollection AddKeyedDeepSeek(this IServiceCollection services, object serviceKey, Action<DeepSeekModelOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(serviceKey);
        ArgumentNullException.ThrowIfNull(configure);
        return Add(services, serviceKey, b => b.Configure(configure));
    }

    /// <summary>Registers a model bound from <paramref name="configuration"/> as keyed services under <paramref name="serviceKey"/>.</summary>
    public static IServiceCollection AddKeyedDeepSeek(this IServiceCollection services, object serviceKey, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(serviceKey);
        ArgumentNullException.ThrowIfNull(configuration);
        return Add(services, serviceKey, b => b.Bind(configuration));
    }

    /// <summary>The options name used for a registration: <see cref="Microsoft.Extensions.Options.Options.DefaultName"/> unkeyed, the key's text when keyed.</summary>
    public static string OptionsName(object? serviceKey) => serviceKey is null ? Microsoft.Extensions.Options.Options.DefaultName : serviceKey.ToString() ?? "";

    private static IServiceCollection Add(IServiceCollection services, object? serviceKey, Action<OptionsBuilder<DeepSeekModelOptions>> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        var name = OptionsName(serviceKey);
        configure(services.AddOptions<DeepSeekModelOptions>(name));
        services.AddOptions<DeepSeekModelOptions>(name).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<DeepSeekModelOptions>, DeepSeekModelOptionsValidator>());

        if (serviceKey is null)
        {
            services.AddSingleton<IChatModel>(sp => Load(sp, name));
            services.AddSingleton<IChatClient>(sp => new DeepSeekChatClient(sp.GetRequiredService<IChatModel>()));
        }
        else
        {
            services.AddKeyedSingleton<IChatModel>(serviceKey, (sp, _) => Load(sp, name));
            services.AddKeyedSingleton<IChatClient>(serviceKey, (sp, key) => new DeepSeekChatClient(sp.GetRequiredKeyedService<IChatModel>(key)));
        }
        return services;
    }

    private static DeepSeekChatModel Load(IServiceProvider services, string name)
    {
        var options = services.GetRequiredService<IOptionsMonitor<DeepSeekModelOptions>>().Get(name);
        return DeepSeekChatModel.Load(string.IsNullOrWhiteSpace(options.ModelPath) ? EmbeddedModel.GetPath() : options.ModelPath, options, services.GetService<ILoggerFactory>(), services.GetService<IMeterFactory>());
    }
}
