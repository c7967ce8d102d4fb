namespace DeepSeek.Runtime.Checkpoints;

/// <summary>A <c>config.json</c> value is missing, malformed or contradicts another; the message names the key.</summary>
public sealed class ModelConfigException : Exception
{
    /// <summary>Creates the exception for <paramref name="key"/> (a JSON key path such as <c>rope_scaling.factor</c>).</summary>
    public ModelConfigException(string key, string message, string? file = null, Exception? inner = null)
        : base(file is null ? $"config key '{key}': {message}" : $"config key '{key}': {message} (file '{file}')", inner)
    {
        Key = key;
        File = file;
    }

    /// <summary>The config key at fault.</summary>
    public string Key { get; }

    /// <summary>The config file, if known.</summary>
    public string? File { get; }
}
