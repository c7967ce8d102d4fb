namespace DeepSeek.Interop.Cuda;

/// <summary>No usable NVIDIA driver: the CUDA driver library could not be loaded. The message says which files were tried.</summary>
public sealed class CudaUnavailableException : Exception
{
    /// <summary>Creates the exception.</summary>
    public CudaUnavailableException(string message, Exception? inner = null) : base(message, inner)
    {
    }
}
