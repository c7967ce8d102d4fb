using System.Text;
using DeepSeek.Interop.Cuda;

namespace DeepSeek.Interop.Tests.Cuda;

public class KernelArgumentsTests
{
    private const string Ptx = """
        .version 7.8
        .target sm_90
        .address_size 64

        .visible .entry k(
        	.param .u32 k_param_0,
        	.param .u64 k_param_1,
        	.param .f32 k_param_2,
        	.param .u64 k_param_3,
        	.param .align 8 .b8 k_param_4[24]
        )
        {
        	ret;
        }
        .visible .entry small(
        	.param .u32 small_param_0
        )
        {
        	ret;
        }
        """;

    [Fact]
    public void Values_are_laid_out_at_their_natural_alignment()
    {
        var args = new KernelArguments().Add(7).AddPointer(0xDEAD_BEEF_0000UL).Add(1.5f).Add(-3L).Add(2u);
        Assert.Equal([0, 8, 16, 24, 32], args.Offsets);
        Assert.Equal([4, 8, 4, 8, 4], args.Sizes);
        Assert.Equal(36, args.Size);
        var v = args.Values;
        Assert.Equal(7, BitConverter.ToInt32(v[..4]));
        Assert.Equal(0xDEAD_BEEF_0000UL, BitConverter.ToUInt64(v.Slice(8, 8)));
        Assert.Equal(1.5f, BitConverter.ToSingle(v.Slice(16, 4)));
        Assert.Equal(-3L, BitConverter.ToInt64(v.Slice(24, 8)));
        Assert.Equal(2u, BitConverter.ToUInt32(v.Slice(32, 4)));
    }

    [Fact]
    public void The_buffer_grows_and_clear_reuses_it()
    {
        var args = new KernelArguments();
        for (var i = 0; i < 40; i++) args.Add((long)i);
        Assert.Equal(320, args.Size);
        Assert.Equal(39L, BitConverter.ToInt64(args.Values.Slice(312, 8)));
        args.Clear();
        Assert.Equal(0, args.Count);
        args.Add(5);
        Assert.Equal([0], args.Offsets);
    }

    [Fact]
    public void Ptx_signatures_parse_with_sizes_and_alignment()
    {
        var entries = PtxEntryPoints.Parse(Ptx);
        Assert.Equal(["k", "small"], entries.Keys.Order());
        var k = entries["k"].Parameters;
        Assert.Equal([4, 8, 4, 8, 24], k.Select(p => p.Size));
        Assert.Equal(8, k[4].Alignment);
        Assert.Equal(".b8[24]", k[4].Type);
        Assert.Equal("sm_90", PtxEntryPoints.Target(Ptx));
        Assert.Equal("7.8", PtxEntryPoints.Version(Ptx));
    }

    [Fact]
    public void A_launch_whose_arguments_do_not_match_the_ptx_is_refused_before_the_driver_sees_it()
    {
        var small = PtxEntryPoints.Parse(Ptx)["small"];
        new KernelArguments().Add(1).Validate(small);
        var e = Assert.Throws<ArgumentException>(() => new KernelArguments().Add(1L).Validate(small));
        Assert.Equal("kernel 'small' takes (.u32) but was given 1 argument(s) of (8 bytes)", e.Message);
        Assert.Throws<ArgumentException>(() => new KernelArguments().Add(1).Add(2).Validate(small));
    }

    [Fact]
    public void The_driver_receives_a_pointer_to_each_value()
    {
        using var driver = new FakeCudaDriver();
        using var ctx = CudaContext.Create(driver, 0);
        using var module = ctx.LoadModule("test", Encoding.UTF8.GetBytes(Ptx));
        using var buffer = ctx.Allocate<float>(16);
        var kernel = module.GetKernel("k");
        Assert.Same(kernel, module.GetKernel("k"));
        var args = new KernelArguments().Add(42).Add(buffer, 4).Add(0.25f).Add(long.MaxValue).AddPointer(0).Add(0).Add(0L);
        // Seven arguments for a five-parameter kernel: refused by the signature check, never launched.
        Assert.Throws<ArgumentException>(() => kernel.Launch(3, 128, args));
        Assert.Empty(driver.Launches);
        var ok = new KernelArguments().Add(7);
        module.GetKernel("small").Launch(new LaunchDims(2, 3), new LaunchDims(32, 4), ok);
        var launch = Assert.Single(driver.Launches);
        Assert.Equal("small", launch.Kernel);
        Assert.Equal([2u, 3u, 1u], launch.Grid);
        Assert.Equal([32u, 4u, 1u], launch.Block);
        Assert.Equal(7, BitConverter.ToInt32(launch.Arguments[0]));
        Assert.Equal("small grid (2, 3, 1) block (32, 4, 1)", ctx.LastLaunch);
    }

    [Fact]
    public void Launch_dimensions_are_checked()
    {
        using var driver = new FakeCudaDriver();
        using var ctx = CudaContext.Create(driver, 0);
        using var module = ctx.LoadModule("test", Encoding.UTF8.GetBytes(Ptx));
        var kernel = module.GetKernel("small");
        var args = new KernelArguments().Add(1);
        Assert.Throws<ArgumentOutOfRangeException>(() => kernel.Launch(0, 32, args));
        Assert.Throws<ArgumentOutOfRangeException>(() => kernel.Launch(1, 2048, args));
        Assert.Throws<ArgumentOutOfRangeException>(() => kernel.Launch(new LaunchDims(1, 70000), 32, args));
        Assert.Empty(driver.Launches);
    }

    [Fact]
    public void A_kernel_missing_from_its_module_is_not_found()
    {
        using var driver = new FakeCudaDriver();
        using var ctx = CudaContext.Create(driver, 0);
        using var module = ctx.LoadModule("test", Encoding.UTF8.GetBytes(Ptx));
        var e = Assert.Throws<CudaException>(() => module.GetKernel("nope"));
        Assert.Equal(CuResult.NotFound, e.Result);
        Assert.Contains("kernel 'nope' in module 'test'", e.Message, StringComparison.Ordinal);
    }
}
