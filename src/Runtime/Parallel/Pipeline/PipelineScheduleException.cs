namespace DeepSeek.Runtime.Distributed.Pipeline;

/// <summary>
/// A pipeline schedule cannot be built for the arguments given (odd rank count for DualPipe, too few micro-batches, …).
/// Derives from <see cref="ArgumentException"/>: it is always a caller's bad input.
/// </summary>
public sealed class PipelineScheduleException : ArgumentException
{
    /// <summary>Creates the exception with a message that says what was wrong and what would be accepted.</summary>
    public PipelineScheduleException(string message) : base(message) { }

    /// <summary>Creates the exception.</summary>
    public PipelineScheduleException() { }

    /// <summary>Creates the exception with an inner cause.</summary>
    public PipelineScheduleException(string message, Exception innerException) : base(message, innerException) { }
}

/// <summary>
/// A schedule's instruction lists are inconsistent: a micro-batch is computed twice or never on a stage, a backward precedes its
/// forward, a receive has no matching send, or the ranks would wait on each other forever (deadlock).
/// </summary>
public sealed class InvalidPipelineScheduleException : Exception
{
    /// <summary>Creates the exception; the message names the rank, the instruction and the rule broken.</summary>
    public InvalidPipelineScheduleException(string message) : base(message) { }

    /// <summary>Creates the exception.</summary>
    public InvalidPipelineScheduleException() { }

    /// <summary>Creates the exception with an inner cause.</summary>
    public InvalidPipelineScheduleException(string message, Exception innerException) : base(message, innerException) { }
}
