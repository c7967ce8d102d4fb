using DeepSeek.Interop.Cuda;
using DeepSeek.Interop.Nccl;

namespace DeepSeek.Interop.Tests.Nccl;

/// <summary>A test that needs NCCL and an NVIDIA GPU; skipped, with the reason shown, where either is missing.</summary>
public sealed class NcclFactAttribute : FactAttribute
{
    public NcclFactAttribute()
    {
        if (!NcclLibrary.IsAvailable) Skip = $"NCCL is not installed (tried {string.Join(", ", NcclLibrary.CandidateNames)}; set {NcclLibrary.PathVariable} to a libnccl.so.2)";
        else if (!CudaDriverLibrary.IsAvailable) Skip = $"no NVIDIA driver (tried {string.Join(", ", CudaDriverLibrary.CandidateNames)})";
    }
}

/// <summary>A test of the behaviour without NCCL; skipped where NCCL is installed.</summary>
public sealed class NoNcclFactAttribute : FactAttribute
{
    public NoNcclFactAttribute()
    {
        if (NcclLibrary.IsAvailable) Skip = "NCCL is installed here; the library-absent path cannot be exercised";
    }
}
