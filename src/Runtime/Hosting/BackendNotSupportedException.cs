namespace DeepSeek.Runtime.Hosting;

/// <summary>The configured compute backend is not available in this build (e.g. <c>cuda</c> before the GPU backend lands).</summary>
public sealed class BackendNotSupportedException : NotSupportedException
{
    /// <summary>Creates the exception for <paramref name="backend"/>.</summary>
    public BackendNotSupportedException(string backend, string message) : base(message) => Backend = backend;

    /// <summary>The backend that was asked for.</summary>
    public string Backend { get; }
}
