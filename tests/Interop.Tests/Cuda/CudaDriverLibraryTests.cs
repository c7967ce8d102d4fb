using DeepSeek.Interop.Cuda;

namespace DeepSeek.Interop.Tests.Cuda;

public class CudaDriverLibraryTests
{
    [Fact]
    public void Reports_the_driver_or_names_what_it_tried()
    {
        Assert.NotEmpty(CudaDriverLibrary.CandidateNames);
        if (CudaDriverLibrary.IsAvailable)
        {
            Assert.NotEqual(0, CudaDriverLibrary.Handle);
            return;
        }
        var e = Assert.Throws<CudaUnavailableException>(() => CudaDriverLibrary.Handle);
        Assert.StartsWith("No NVIDIA driver", e.Message);
        foreach (var name in CudaDriverLibrary.CandidateNames) Assert.Contains(name, e.Message);
        Assert.Contains("CPU backend", e.Message);
    }
}
