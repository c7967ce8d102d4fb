using System.Text;
using DeepSeek.Interop.Cuda;
using DeepSeek.Interop.Gpu;

namespace DeepSeek.Interop.Tests.Gpu;

public class PtxLibraryTests
{
    private static readonly string[] ExpectedModules = ["attention", "elementwise", "gemm", "moe", "sampling"];

    [Fact]
    public void Every_module_ships_for_every_target()
    {
        Assert.Equal(ExpectedModules, PtxLibrary.Modules.Order());
        foreach (var module in ExpectedModules)
            foreach (var target in PtxLibrary.Targets)
                Assert.Contains($"ptx/{module}.sm_{target}.ptx", PtxLibrary.ResourceNames);
        Assert.Equal(ExpectedModules.Length * PtxLibrary.Targets.Count, PtxLibrary.ResourceNames.Count);
    }

    [Fact]
    public void Each_shipped_ptx_declares_its_target_and_an_isa_the_11_8_toolchain_emits()
    {
        foreach (var module in ExpectedModules)
            foreach (var target in PtxLibrary.Targets)
            {
                var text = Encoding.UTF8.GetString(PtxLibrary.Read(module, target));
                Assert.Equal($"sm_{target}", PtxEntryPoints.Target(text));
                Assert.Equal("7.8", PtxEntryPoints.Version(text));
                Assert.NotEmpty(PtxEntryPoints.Parse(text));
            }
    }

    [Fact]
    public void The_same_kernels_with_the_same_signatures_ship_for_every_target()
    {
        var reference = Signatures(80);
        foreach (var target in PtxLibrary.Targets) Assert.Equal(reference, Signatures(target));
    }

    [Theory]
    [InlineData("fp8_gemm", 9)]
    [InlineData("fp8_gemm_grouped", 9)]
    [InlineData("act_quant_fp8", 6)]
    [InlineData("gemm_w_bf16", 13)]
    [InlineData("gemm_w_fp8", 13)]
    [InlineData("embedding_bf16", 10)]
    [InlineData("rms_norm", 8)]
    [InlineData("rope", 10)]
    [InlineData("moe_gate", 13)]
    [InlineData("moe_permute_plan", 5)]
    [InlineData("mla_attend", 12)]
    [InlineData("mla_q_absorb_fp8", 13)]
    [InlineData("mla_out_absorb_fp8", 12)]
    [InlineData("attention", 14)]
    [InlineData("argmax_rows", 4)]
    public void Kernels_the_backend_launches_exist_with_their_parameter_counts(string entry, int parameters)
    {
        foreach (var target in PtxLibrary.Targets)
        {
            var module = PtxLibrary.EntryModules(target)[entry];
            var parsed = PtxEntryPoints.Parse(Encoding.UTF8.GetString(PtxLibrary.Read(module, target)));
            Assert.Equal(parameters, parsed[entry].Parameters.Count);
        }
    }

    [Fact]
    public void The_fp8_conversion_instructions_are_used_where_ptxas_11_8_accepts_them()
    {
        // CUDA 11.8's ptxas takes cvt …e4m3x2 for sm_90 only; sm_80/sm_89 decode and encode E4M3 with integer ops.
        var sm90 = Encoding.UTF8.GetString(PtxLibrary.Read("gemm", 90));
        Assert.Contains("cvt.rn.f16x2.e4m3x2", sm90, StringComparison.Ordinal);
        Assert.Contains("cvt.rn.satfinite.e4m3x2.f32", sm90, StringComparison.Ordinal);
        foreach (var t in new[] { 80, 89 })
            Assert.DoesNotContain("e4m3", Encoding.UTF8.GetString(PtxLibrary.Read("gemm", t)), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(80, 80)]
    [InlineData(86, 80)]
    [InlineData(89, 89)]
    [InlineData(90, 90)]
    [InlineData(100, 90)]
    public void The_highest_target_not_above_the_gpu_is_chosen(int computeCapability, int expected) =>
        Assert.Equal(expected, PtxLibrary.SelectTarget(computeCapability));

    [Fact]
    public void Gpus_older_than_ampere_are_refused_with_a_reason()
    {
        var e = Assert.Throws<NotSupportedException>(() => PtxLibrary.SelectTarget(75));
        Assert.Contains("compute capability 7.5 is older than sm_80", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Native_sources_and_scripts_are_in_the_repository()
    {
        var dir = Path.Combine(RepoPaths.Repo, "native", "ptx");
        foreach (var module in ExpectedModules) Assert.True(File.Exists(Path.Combine(dir, module + ".cu")), module);
        foreach (var script in new[] { "build.sh", "check.sh", "toolkit.sh", "common.cuh" }) Assert.True(File.Exists(Path.Combine(dir, script)), script);
        // The embedded copies are the committed files.
        foreach (var module in ExpectedModules)
            Assert.Equal(File.ReadAllBytes(Path.Combine(dir, $"{module}.sm_90.ptx")), PtxLibrary.Read(module, 90));
    }

    private static string Signatures(int target) => string.Join("\n",
        PtxLibrary.Modules.SelectMany(m => PtxEntryPoints.Parse(Encoding.UTF8.GetString(PtxLibrary.Read(m, target))).Values)
            .OrderBy(e => e.Name, StringComparer.Ordinal)
            .Select(e => $"{e.Name}({string.Join(",", e.Parameters.Select(p => p.Type))})"));
}
