namespace DeepSeek.Runtime.Distributed;

/// <summary>A communicator operation failed: bad arguments across ranks, a transport error, a timeout or a failed rank.</summary>
public class CommunicatorException : Exception
{
    /// <summary>Creates the exception.</summary>
    public CommunicatorException(string message, Exception? inner = null) : base(message, inner)
    {
    }
}

/// <summary>Another rank of the group failed (threw, was killed, cancelled or aborted), so this operation cannot complete.</summary>
public class RankFailedException : CommunicatorException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="failedRank">Rank (in the outermost group) that failed, or -1 when unknown.</param>
    /// <param name="message">What happened.</param>
    /// <param name="inner">The failing rank's own exception, where it is known in this process.</param>
    public RankFailedException(int failedRank, string message, Exception? inner = null) : base(message, inner) => FailedRank = failedRank;

    /// <summary>Rank (in the outermost group) that failed, or -1 when unknown.</summary>
    public int FailedRank { get; }
}

/// <summary>An operation waited longer than the communicator's operation timeout; the group is broken afterwards.</summary>
public sealed class CommunicatorTimeoutException : CommunicatorException
{
    /// <summary>Creates the exception.</summary>
    public CommunicatorTimeoutException(string message) : base(message)
    {
    }
}
