using DeepSeek.Runtime.Hosting;
using Microsoft.Extensions.AI;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// Semantic Kernel registration: SK resolves chat services as <see cref="IChatClient"/> keyed by service id from the kernel's
/// service collection, so the connector registers exactly that — thin code over <c>AddDeepSeek</c>/<c>AddKeyedDeepSeek</c>,
/// with the same validated options, one singleton model and no second inference path.
/// <code>
/// var builder = Kernel.CreateBuilder();
/// builder.Services.AddDeepSeekChatClient("/models/DeepSeek-V3", serviceId: "deepseek");
/// </code>
/// </summary>
public static class DeepSeekKernelServiceCollectionExtensions
{
    /// <summary>
    /// Registers the model in <paramref name="modelPath"/> as an <see cref="IChatClient"/> (and <see cref="IChatModel"/>),
    /// keyed by <paramref name="serviceId"/> when given, unkeyed otherwise.
    /// </summary>
    public static IServiceCollection AddDeepSeekChatClient(this IServiceCollection services, string modelPath, string? serviceId = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(modelPath);
        return services.AddDeepSeekChatClient(o => o.ModelPath = modelPath, serviceId);
    }

    /// <summary>
    /// Registers the model configured by <paramref name="configure"/> as an <see cref="IChatClient"/> (and <see cref="IChatModel"/>),
    /// keyed by <paramref name="serviceId"/> when given, unkeyed otherwise.
    /// </summary>
    public static IServiceCollection AddDeepSeekChatClient(this IServiceCollection services, Action<DeepSeekModelOptions> configure, string? serviceId = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        return serviceId is null ? services.AddDeepSeek(configure) : services.AddKeyedDeepSeek(serviceId, configure);
    }
}
