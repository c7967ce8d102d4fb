namespace DeepSeek.Runtime.Generation;

/// <summary>A prompt or generation would exceed the context length; raised before any work is done.</summary>
public sealed class ContextLengthException : Exception
{
    /// <summary>Creates the exception.</summary>
    public ContextLengthException(string message, int requested, int limit) : base(message)
    {
        Requested = requested;
        Limit = limit;
    }

    /// <summary>Tokens that were needed.</summary>
    public int Requested { get; }

    /// <summary>Tokens available.</summary>
    public int Limit { get; }
}
