using DeepSeek.Runtime.Distributed;

namespace DeepSeek.Interop.Nccl;

/// <summary>A CUDA driver call made to stage host data through device memory for NCCL failed; the message names the call and CUDA's error name.</summary>
public sealed class NcclStagingException : CommunicatorException
{
    /// <summary>Creates the exception.</summary>
    public NcclStagingException(string message) : base(message)
    {
    }
}
