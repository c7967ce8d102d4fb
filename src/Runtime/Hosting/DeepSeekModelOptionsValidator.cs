using DeepSeek.Runtime.Compute;
using Microsoft.Extensions.Options;

namespace DeepSeek.Runtime.Hosting;

/// <summary>
/// Checks <see cref="DeepSeekModelOptions"/> before a model is loaded; each failure names the option, so a bad
/// configuration fails at host start-up (with <c>ValidateOnStart</c>) rather than at the first request. When everything
/// else is valid and the backend is <c>cuda</c>, the backend's own availability check runs too and its typed exception
/// (<c>CudaUnavailableException</c>: no NVIDIA driver) is thrown from start-up as-is, not folded into a validation message.
/// </summary>
public sealed class DeepSeekModelOptionsValidator : IValidateOptions<DeepSeekModelOptions>
{
    /// <summary>Backends the options name.</summary>
    public static IReadOnlyList<string> Backends => ComputeBackends.Names;

    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, DeepSeekModelOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var prefix = string.IsNullOrEmpty(name) ? "DeepSeekModelOptions" : $"DeepSeekModelOptions['{name}']";
        var failures = new List<string>();
        if (string.IsNullOrWhiteSpace(options.ModelPath))
        {
            if (EmbeddedModel.TryGetPath() is null)
                failures.Add($"{prefix}.ModelPath is required (a checkpoint folder with config.json): the embedded model '{EmbeddedModel.Name}' is not next to this application.");
        }
        else if (!Directory.Exists(options.ModelPath))
            failures.Add($"{prefix}.ModelPath '{options.ModelPath}' does not exist.");
        else if (!File.Exists(Path.Combine(options.ModelPath, "config.json")))
            failures.Add($"{prefix}.ModelPath '{options.ModelPath}' has no config.json.");
        if (options.Threads < 0) failures.Add($"{prefix}.Threads must be >= 0 (0 = all cores), got {options.Threads}.");
        if (options.ContextLength < 2) failures.Add($"{prefix}.ContextLength must be >= 2, got {options.ContextLength}.");
        if (options.MaxConcurrentSequences < 1) failures.Add($"{prefix}.MaxConcurrentSequences must be >= 1, got {options.MaxConcurrentSequences}.");
        if (!Backends.Contains(options.Backend, StringComparer.OrdinalIgnoreCase))
            failures.Add($"{prefix}.Backend must be one of {string.Join(", ", Backends)}, got '{options.Backend}'.");
        if (!double.IsFinite(options.Temperature) || options.Temperature < 0)
            failures.Add($"{prefix}.Temperature must be a finite number >= 0 (0 = greedy), got {options.Temperature}.");
        if (!(options.TopP > 0 && options.TopP <= 1)) failures.Add($"{prefix}.TopP must be in (0, 1], got {options.TopP}.");
        if (options.MaxOutputTokens < 1) failures.Add($"{prefix}.MaxOutputTokens must be >= 1, got {options.MaxOutputTokens}.");
        if (failures.Count > 0) return ValidateOptionsResult.Fail(failures);
        IComputeBackendFactory factory;
        try
        {
            factory = ComputeBackends.Find(options.Backend);
        }
        catch (NotSupportedException e)
        {
            return ValidateOptionsResult.Fail($"{prefix}.{e.Message}");   // "…Options.Backend 'cuda' is not available: …"
        }
        factory.EnsureAvailable();
        return ValidateOptionsResult.Success;
    }
}
