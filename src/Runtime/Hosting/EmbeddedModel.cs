namespace DeepSeek.Runtime.Hosting;

/// <summary>
/// The model that ships with the runtime: <c>deepseek-tiny-reasoner</c>, a DeepSeek-V3 in miniature (MLA, MoE with the
/// aux-loss-free bias, YaRN, one MTP layer) trained by this project's own SFT and GRPO to reason about arithmetic in
/// R1's <c>&lt;think&gt;</c> format. It is copied next to every application that references the runtime, so
/// <c>AddDeepSeek()</c>, <c>deepseek chat</c> and the samples work with no download.
/// </summary>
public static class EmbeddedModel
{
    /// <summary>The model's id (its folder's name).</summary>
    public const string Name = "deepseek-tiny-reasoner";

    /// <summary>The folder's path relative to the application's base directory.</summary>
    public static string RelativePath { get; } = Path.Combine("models", Name);

    /// <summary>The model folder next to the running application, or null when the application was built without it.</summary>
    public static string? TryGetPath()
    {
        var path = Path.Combine(AppContext.BaseDirectory, RelativePath);
        return File.Exists(Path.Combine(path, "config.json")) ? path : null;
    }

    /// <summary>The model folder next to the running application.</summary>
    /// <exception cref="DirectoryNotFoundException">The application was published without the model's files.</exception>
    public static string GetPath() => TryGetPath() ?? throw new DirectoryNotFoundException(
        $"the embedded model '{Name}' is not next to this application ({Path.Combine(AppContext.BaseDirectory, RelativePath)}): " +
        "reference DeepSeek.Runtime so its models/ folder is copied to the output, or pass a checkpoint folder explicitly");
}
