using System.Runtime.CompilerServices;
using DeepSeek.Interop.Cuda;
using DeepSeek.Interop.Gpu;
using DeepSeek.Interop.Tests.Cuda;
using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Compute;
using DeepSeek.Runtime.Model;
using DeepSeek.Runtime.Tensors;

namespace DeepSeek.Interop.Tests.Gpu;

/// <summary>
/// The whole CUDA backend driven through a fake driver: no kernel runs (numbers are not checked here; the GPU tests
/// do that), but every launch the model makes goes through the real argument marshalling and is checked against the
/// shipped PTX's signature, every address passed to a kernel is live device memory, and nothing leaks or is freed twice.
/// </summary>
public class CudaBackendFakeDriverTests
{
    [Theory]
    [InlineData("tiny-v3-fp8", MlaMode.Absorbed, true)]
    [InlineData("tiny-v3-fp8", MlaMode.Absorbed, false)]
    [InlineData("tiny-v3", MlaMode.Absorbed, true)]
    [InlineData("tiny-v3", MlaMode.Plain, true)]
    [InlineData("tiny-v2-lite", MlaMode.Absorbed, true)]
    [InlineData("tiny-qwen2", MlaMode.Absorbed, true)]
    [InlineData("tiny-llama", MlaMode.Absorbed, true)]
    public void A_prefill_and_a_decode_step_launch_only_well_formed_kernels_and_free_everything(string model, MlaMode mode, bool fp8Activations)
    {
        using var driver = new FakeCudaDriver();
        var launched = Run(driver, model, mode, fp8Activations);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();

        Assert.Equal(0, driver.BadLaunchPointers);
        Assert.Equal(0, driver.BadCopies);
        Assert.Equal(0, driver.BadFrees);
        Assert.Equal(0, driver.LiveDevice);
        Assert.Equal(0, driver.LiveModules);
        Assert.Equal(driver.Retains, driver.Releases);
        Assert.Contains("rms_norm", launched);
        Assert.Contains("swiglu", launched);
        if (model == "tiny-v3-fp8")
        {
            Assert.Equal(fp8Activations, launched.Contains("fp8_gemm"));
            Assert.Equal(fp8Activations, launched.Contains("act_quant_fp8"));
            Assert.Equal(!fp8Activations, launched.Contains("gemm_w_fp8"));
        }
        if (model.StartsWith("tiny-v", StringComparison.Ordinal))
            Assert.Contains(mode == MlaMode.Absorbed ? "mla_attend" : "attention", launched);
        else
            Assert.Contains("attention", launched);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static HashSet<string> Run(FakeCudaDriver driver, string model, MlaMode mode, bool fp8Activations)
    {
        using var checkpoint = Checkpoint.Open(RepoPaths.Model(model));
        var weights = WeightMap.Bind(checkpoint);
        // No kernel runs here, so the tensor-core FP8 GEMM fails its device check (NaN outputs) and the backend warns: expected.
        using var backend = new CudaBackend(CudaContext.Create(driver, 0), new CudaBackendOptions { Fp8Activations = fp8Activations, Warning = _ => { } });
        var transformer = new Transformer(backend, weights, 32, mode);
        var cache = transformer.CreateCache(2, 16);
        var logits = new float[2 * transformer.VocabSize];
        transformer.Forward([1, 2, 3, 4, 5], [0, 0, 0, 1, 1], cache, [2, 4], logits);
        transformer.Forward([6, 7], [0, 1], cache, [0, 1], logits);
        if (transformer.Mtp.Count > 0)
        {
            var main = transformer.Forward([8], [0], cache, [0], logits.AsSpan(0, transformer.VocabSize));
            transformer.MtpForward([9], main, cache, [0], logits.AsSpan(0, transformer.VocabSize));
        }
        Assert.True(backend.UploadedWeights > 0);
        return driver.Launches.Select(l => l.Kernel).ToHashSet();
    }

    [Fact]
    public void Weights_upload_once_in_their_stored_dtype()
    {
        using var driver = new FakeCudaDriver();
        using var checkpoint = Checkpoint.Open(RepoPaths.Model("tiny-v3-fp8"));
        var weights = WeightMap.Bind(checkpoint);
        using var backend = new CudaBackend(CudaContext.Create(driver, 0), new CudaBackendOptions());
        var wo = weights.Blocks[0].Mla!.Wo;
        Assert.True(wo.IsFp8);
        var bound = (CudaWeight)backend.Bind(wo);
        Assert.Same(bound, backend.Bind(wo));
        Assert.Equal(DType.F8_E4M3, bound.DType);
        Assert.Equal(wo.Tensor.Bytes.Length, bound.Data.Length);                 // one byte per weight: FP8 kept FP8
        Assert.Equal(wo.Tensor.Bytes.ToArray(), Download(bound.Data));             // the mapped bytes, unchanged
        Assert.Equal(new WeightTensor(wo.ScaleInv!.Value, null).ToFloatArray(), Download(bound.Scale!));
        var norm = (CudaWeight)backend.Bind(weights.Blocks[0].AttnNorm);
        Assert.Equal(DType.F32, norm.DType);                                       // vectors decoded once to fp32
        Assert.Equal(weights.Blocks[0].AttnNorm.ToFloatArray(), System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(Download(norm.Data)).ToArray());
    }

    [Fact]
    public void Tensors_round_trip_through_device_memory_including_column_slices()
    {
        using var driver = new FakeCudaDriver();
        using var backend = new CudaBackend(CudaContext.Create(driver, 0), new CudaBackendOptions());
        var t = backend.Allocate(3, 5);
        var zeros = new float[15];
        backend.Download(t, zeros);
        Assert.All(zeros, v => Assert.Equal(0f, v));                                // Allocate gives zeros
        backend.Upload(Enumerable.Range(0, 15).Select(i => (float)i).ToArray(), t);
        var slice = t.Columns(1, 2).RowRange(1, 2);
        var part = new float[4];
        backend.Download(slice, part);
        Assert.Equal([6f, 7f, 11f, 12f], part);
        backend.Upload([-1f, -2f, -3f, -4f], slice);
        var all = new float[15];
        backend.Download(t, all);
        Assert.Equal([0, 1, 2, 3, 4, 5, -1, -2, 8, 9, 10, -3, -4, 13, 14], all);
    }

    [Fact]
    public void Bad_arguments_fail_on_the_host_before_any_launch()
    {
        using var driver = new FakeCudaDriver();
        using var checkpoint = Checkpoint.Open(RepoPaths.Model("tiny-v3"));
        var weights = WeightMap.Bind(checkpoint);
        using var backend = new CudaBackend(CudaContext.Create(driver, 0), new CudaBackendOptions());
        var embed = backend.Bind(weights.Embed);
        var x = backend.Allocate(1, embed.Cols);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => backend.Embedding([embed.Rows], embed, x));
        Assert.Contains($"token id {embed.Rows} outside the vocabulary", e.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => backend.MatMul(x, backend.Bind(weights.Blocks[0].Mla!.Wo), backend.Allocate(1, 3)));
        Assert.Throws<ArgumentException>(() => backend.Add(x, new DeepSeek.Runtime.Compute.Cpu.CpuBackend(1).Allocate(1, embed.Cols)));
        var cache = backend.Allocate(4, 8);
        Assert.Throws<ArgumentOutOfRangeException>(() => backend.WriteCache(backend.Allocate(1, 8), cache, [new TokenSlot(4, 0, 0)]));
        Assert.Empty(driver.Launches);
    }

    [Fact]
    public void A_gpu_older_than_ampere_is_refused_when_the_backend_opens()
    {
        using var driver = new FakeCudaDriver { ComputeCapability = 75 };
        var e = Assert.Throws<NotSupportedException>(() => new CudaBackend(CudaContext.Create(driver, 0), new CudaBackendOptions()));
        Assert.Contains("older than sm_80", e.Message, StringComparison.Ordinal);
        Assert.Equal(driver.Retains, driver.Releases);
    }

    private static byte[] Download(DeviceBuffer<byte> buffer)
    {
        var bytes = new byte[buffer.Length];
        buffer.CopyTo(bytes);
        return bytes;
    }

    private static float[] Download(DeviceBuffer<float> buffer)
    {
        var values = new float[buffer.Length];
        buffer.CopyTo(values);
        return values;
    }
}
