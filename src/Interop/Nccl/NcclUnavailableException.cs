using DeepSeek.Runtime.Distributed;

namespace DeepSeek.Interop.Nccl;

/// <summary>NCCL cannot be used here: <c>libnccl.so.2</c> is not installed, or there is no NVIDIA driver to stage host buffers through. The message says what was tried.</summary>
public sealed class NcclUnavailableException : CommunicatorException
{
    /// <summary>Creates the exception.</summary>
    public NcclUnavailableException(string message, Exception? inner = null) : base(message, inner)
    {
    }
}
