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
            Assert.Null(CudaDriverLibrary.UnavailableReason);
            return;
        }
        var e = Assert.Throws<CudaUnavailableException>(() => CudaDriverLibrary.Handle);
        Assert.StartsWith("No NVIDIA driver", e.Message);
        foreach (var name in CudaDriverLibrary.CandidateNames) Assert.Contains(name, e.Message);
        Assert.Contains("CPU backend", e.Message);
        Assert.Equal(e.Message, CudaDriverLibrary.UnavailableReason);
    }

    [Fact]
    public void Probe_tries_every_candidate_in_order_and_names_them_all_when_none_loads()
    {
        var tried = new List<string>();
        var (handle, failure) = CudaDriverLibrary.Probe(["libcuda.so.1", "libcuda.so"], "Linux", (string name, out nint h) =>
        {
            tried.Add(name);
            h = 0;
            return false;
        });
        Assert.Equal(0, handle);
        Assert.Equal(["libcuda.so.1", "libcuda.so"], tried);
        Assert.Equal("No NVIDIA driver: libcuda.so.1 or libcuda.so not found. Install the NVIDIA driver (the CUDA toolkit is not needed) or use the CPU backend.", failure);
    }

    [Fact]
    public void Probe_stops_at_the_first_library_that_loads()
    {
        var tried = new List<string>();
        var (handle, failure) = CudaDriverLibrary.Probe(["libcuda.so.1", "libcuda.so"], "Linux", (string name, out nint h) =>
        {
            tried.Add(name);
            h = name == "libcuda.so.1" ? 0x1234 : 0;
            return h != 0;
        });
        Assert.Equal(0x1234, handle);
        Assert.Null(failure);
        Assert.Equal(["libcuda.so.1"], tried);
    }

    [Fact]
    public void An_os_without_a_cuda_driver_says_so()
    {
        var (handle, failure) = CudaDriverLibrary.Probe([], "Darwin 23.0", (string _, out nint h) => throw new InvalidOperationException("must not load"));
        Assert.Equal(0, handle);
        Assert.Equal("No NVIDIA driver: CUDA is not supported on Darwin 23.0; use the CPU backend.", failure);
    }

    [Fact]
    public void Without_a_driver_creating_a_context_is_the_typed_no_driver_error()
    {
        if (CudaDriverLibrary.IsAvailable) return;   // covered by the GPU tests there
        var e = Assert.Throws<CudaUnavailableException>(() => CudaContext.Create());
        Assert.StartsWith("No NVIDIA driver", e.Message);
    }
}
