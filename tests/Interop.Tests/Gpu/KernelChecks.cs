using DeepSeek.Interop.Cuda;
using DeepSeek.Interop.Gpu;
using DeepSeek.Interop.Tests.Compute;
using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Compute;
using DeepSeek.Runtime.Compute.Cpu;
using DeepSeek.Runtime.Model;
using DeepSeek.Runtime.Tensors;

namespace DeepSeek.Interop.Tests.Gpu;

/// <summary>
/// Each kernel against its CPU reference (the CPU backend, the FP8 twin, the host Gate), on whatever runs the kernels:
/// a GPU (<see cref="GpuKernelTests"/>) or the host emulator of the same sources (<see cref="EmulatedKernelTests"/>).
/// </summary>
public abstract class KernelChecks : IDisposable
{
    private readonly CudaBackend _gpu;
    private readonly IDisposable? _driver;
    // The fp32 CPU path: the GPU kernels keep fp32 activations, the native BF16 GEMM would round them to bf16.
    private readonly CpuBackend _cpu = new(2) { NativeKernels = false };
    private readonly Random _rng = new(1234);

    protected KernelChecks(CudaBackend? backend, IDisposable? driver = null)
    {
        _gpu = backend!;
        _driver = driver;
    }

    /// <summary>True when the kernels run bit-exact host arithmetic (the emulator); the GPU may differ in the last bits of expf/rsqrtf.</summary>
    protected bool Emulated => _driver is not null;

    public void Dispose()
    {
        _gpu?.Dispose();
        _driver?.Dispose();
        _cpu.Dispose();
        GC.SuppressFinalize(this);
    }

    protected void CheckFp8_gemm_matches_its_cpu_twin_bit_for_bit(int m, int n, int k)
    {
        var x = Enumerable.Range(0, m * k).Select(_ => (float)BlockFp8GemmTests.Gaussian(_rng) * 4).ToArray();
        var (bCodes, bScales, _) = BlockFp8GemmTests.RandomWeight(_rng, n, k);
        var kb = BlockFp8Gemm.KBlocks(k);
        var twinCodes = new byte[m * k];
        var twinScales = new float[m * kb];
        BlockFp8Gemm.QuantizeActivations(x, m, k, twinCodes, twinScales);
        var twin = new float[m * n];
        BlockFp8Gemm.Gemm(twinCodes, twinScales, m, k, bCodes, bScales, n, twin);

        var ctx = _gpu.Context;
        using var dx = Upload(ctx, x);
        using var codes = ctx.Allocate<byte>(m * k);
        using var scales = ctx.Allocate<float>(m * kb);
        using var db = Upload(ctx, bCodes);
        using var dbs = Upload(ctx, bScales);
        using var dc = ctx.Allocate<float>(m * n);
        _gpu.Kernels.Get(new KernelKey("act_quant_fp8")).Launch(new LaunchDims((uint)m, (uint)kb), 128,
            new KernelArguments().Add(dx).Add((long)k).Add(m).Add(k).Add(codes).Add(scales));
        _gpu.Kernels.Get(new KernelKey("fp8_gemm")).Launch(new LaunchDims((uint)((n + 63) / 64), (uint)((m + 63) / 64)), 256,
            new KernelArguments().Add(codes).Add(scales).Add(db).Add(dbs).Add(dc).Add((long)n).Add(m).Add(n).Add(k));
        Assert.Equal(twinCodes, Download(codes));
        Assert.Equal(twinScales, Download(scales));
        var gpu = Download(dc);
        for (var i = 0; i < gpu.Length; i++) Assert.True(gpu[i] == twin[i] || (gpu[i] == 0 && twin[i] == 0), $"element {i}: gpu {gpu[i]} twin {twin[i]}");
    }

    /// <summary>
    /// fp8_gemm_mma against the twin within <see cref="BlockFp8Gemm.ReorderingBound"/>: only the summation order inside a
    /// 128-block differs, which moves an output by at most (4·min(K,128) + 2)·2⁻²⁴·Σ_b|sa·sb|·Σ_k|a·b| (derivation there).
    /// </summary>
    protected void CheckFp8_gemm_mma_matches_its_cpu_twin_within_the_summation_bound(int m, int n, int k)
    {
        var (a, sa, _) = BlockFp8GemmTests.RandomActivations(_rng, m, k);
        var (b, sb, _) = BlockFp8GemmTests.RandomWeight(_rng, n, k);
        var twin = new float[m * n];
        BlockFp8Gemm.Gemm(a, sa, m, k, b, sb, n, twin);
        var c = RunFp8Gemm("fp8_gemm_mma", a, sa, b, sb, m, n, k);
        var bound = BlockFp8Gemm.ReorderingBound(a, sa, m, k, b, sb, n);
        Assert.Null(Fp8GemmSelfCheck.FirstDisagreement(twin, c, bound, n));
        Assert.Contains(bound, x => x > 0);   // the bound is not vacuous: these outputs do have rounding to bound
    }

    /// <summary>
    /// The fragment layouts, element by element: A holds distinct codes along every row and down every column
    /// (code 1 + (7r + c) mod 120, values 2⁻⁹ … 240), and B picks column σ(j) = (37j + 11) mod 64 of A for output column
    /// j (one 1.0, the rest 0). Every output is then one exact product, whatever the summation order, so c must equal
    /// A[r, σ(j)] exactly; a transposed, swapped or misaddressed fragment puts another element (or a sum) there.
    /// </summary>
    protected void CheckFp8_gemm_mma_puts_every_element_where_the_fragment_layout_says()
    {
        const int m = 64, n = 64, k = 64;
        static int Sigma(int j) => (37 * j + 11) % 64;
        var a = new byte[m * k];
        for (var r = 0; r < m; r++)
            for (var col = 0; col < k; col++) a[r * k + col] = (byte)(1 + (7 * r + col) % 120);
        var b = new byte[n * k];
        for (var j = 0; j < n; j++) b[j * k + Sigma(j)] = 0x38;   // E4M3 1.0
        var c = RunFp8Gemm("fp8_gemm_mma", a, [.. Enumerable.Repeat(1f, m)], b, [1f], m, n, k);
        for (var r = 0; r < m; r++)
            for (var j = 0; j < n; j++)
            {
                var want = Float8E4M3Codec.ToSingle(a[r * k + Sigma(j)]);
                Assert.True(c[r * n + j] == want, $"c[{r}, {j}] = {c[r * n + j]}, want A[{r}, {Sigma(j)}] = {want}");
            }
    }

    /// <summary>E4M3 NaN codes (0x7F, 0xFF) make exactly the outputs the twin makes NaN, through both staging paths.</summary>
    protected void CheckFp8_gemm_mma_propagates_nan_codes_like_its_cpu_twin(int k)
    {
        const int m = 5, n = 70;
        var (a, sa, _) = BlockFp8GemmTests.RandomActivations(_rng, m, k);
        var (b, sb, _) = BlockFp8GemmTests.RandomWeight(_rng, n, k);
        a[2 * k + 7] = 0x7F;
        b[69 * k + k - 1] = 0xFF;
        var twin = new float[m * n];
        BlockFp8Gemm.Gemm(a, sa, m, k, b, sb, n, twin);
        var c = RunFp8Gemm("fp8_gemm_mma", a, sa, b, sb, m, n, k);
        var bound = BlockFp8Gemm.ReorderingBound(a, sa, m, k, b, sb, n);
        Assert.Equal(m + n - 1, twin.Count(float.IsNaN));
        for (var i = 0; i < c.Length; i++)
        {
            Assert.True(float.IsNaN(twin[i]) == float.IsNaN(c[i]), $"c[{i / n}, {i % n}] = {c[i]}, twin {twin[i]}");
            if (!float.IsNaN(twin[i])) Assert.True(Math.Abs((double)twin[i] - c[i]) <= bound[i], $"c[{i / n}, {i % n}] = {c[i]}, twin {twin[i]}");
        }
    }

    private float[] RunFp8Gemm(string kernel, byte[] a, float[] sa, byte[] b, float[] sb, int m, int n, int k)
    {
        var ctx = _gpu.Context;
        using var da = Upload(ctx, a);
        using var dsa = Upload(ctx, sa);
        using var db = Upload(ctx, b);
        using var dsb = Upload(ctx, sb);
        using var dc = Upload(ctx, Enumerable.Repeat(float.NaN, m * n).ToArray());
        _gpu.Kernels.Get(new KernelKey(kernel)).Launch(new LaunchDims((uint)((n + 63) / 64), (uint)((m + 63) / 64)), 256,
            new KernelArguments().Add(da).Add(dsa).Add(db).Add(dsb).Add(dc).Add((long)n).Add(m).Add(n).Add(k));
        return Download(dc);
    }

    protected void CheckGrouped_fp8_gemm_matches_its_cpu_twin()
    {
        int k = 384, n = 256;
        int[] offsets = [0, 5, 5, 77, 80];
        var (a, aScales, _) = BlockFp8GemmTests.RandomActivations(_rng, 80, k);
        var experts = Enumerable.Range(0, 4).Select(_ => BlockFp8GemmTests.RandomWeight(_rng, n, k)).ToArray();
        var b = experts.SelectMany(e => e.Codes).ToArray();
        var bs = experts.SelectMany(e => e.Scales).ToArray();
        var twin = new float[80 * n];
        BlockFp8Gemm.GroupedGemm(a, aScales, offsets, k, b, bs, n, twin);

        var ctx = _gpu.Context;
        using var da = Upload(ctx, a);
        using var das = Upload(ctx, aScales);
        using var db = Upload(ctx, b);
        using var dbs = Upload(ctx, bs);
        using var doff = Upload(ctx, offsets);
        using var dc = ctx.Allocate<float>(80 * n);
        _gpu.Kernels.Get(new KernelKey("fp8_gemm_grouped")).Launch(new LaunchDims((uint)(n / 64), (72 + 63) / 64, 4), 256,
            new KernelArguments().Add(da).Add(das).Add(db).Add(dbs).Add(dc).Add((long)n).Add(doff).Add(n).Add(k));
        Assert.Equal(twin, Download(dc));
    }

    protected void CheckMatmul_rmsnorm_embedding_and_swiglu_match_the_cpu_backend(string model)
    {
        using var checkpoint = Checkpoint.Open(RepoPaths.Model(model));
        var weights = WeightMap.Bind(checkpoint);
        _gpu.Options.Fp8Activations = false;   // the exact path: fp32 activations, weights decoded as the CPU does
        var block = weights.Blocks[^1];
        var linear = block.Mlp?.Down ?? block.Moe!.Experts[0].Down;
        var t = 7;
        var x = RandomRows(t, linear.Tensor.Shape.Rank == 2 ? (int)linear.Tensor.Shape[1] : 1);
        AssertClose(Run(_cpu, b => { var o = b.Allocate(t, (int)linear.Tensor.Shape[0]); b.MatMul(Up(b, x, t), b.Bind(linear), o); return o; }),
                    Run(_gpu, b => { var o = b.Allocate(t, (int)linear.Tensor.Shape[0]); b.MatMul(Up(b, x, t), b.Bind(linear), o); return o; }), 1e-5f, "matmul");

        var h = RandomRows(t, weights.Config.HiddenSize);
        ComputeTensor Norm(IComputeBackend b) { var o = b.Allocate(t, weights.Config.HiddenSize); b.RmsNorm(Up(b, h, t), b.Bind(block.AttnNorm), 1e-6f, o); return o; }
        AssertClose(Run(_cpu, Norm), Run(_gpu, Norm), 1e-5f, "rmsnorm");

        int[] ids = [0, 5, weights.Config.VocabSize - 1];
        ComputeTensor Embed(IComputeBackend b) { var o = b.Allocate(3, weights.Config.HiddenSize); b.Embedding(ids, b.Bind(weights.Embed), o); return o; }
        AssertClose(Run(_cpu, Embed), Run(_gpu, Embed), 0, "embedding");

        var g = RandomRows(t, 33);
        var u = RandomRows(t, 33);
        ComputeTensor Glu(IComputeBackend b) { var o = b.Allocate(t, 33); b.SwiGlu(Up(b, g, t), Up(b, u, t), o); return o; }
        AssertClose(Run(_cpu, Glu), Run(_gpu, Glu), 1e-6f, "swiglu");
    }

    protected void CheckRope_matches_the_cpu_backend(RopeLayout layout)
    {
        var table = RopeTable.Create(64, 10000, null, 4096, layout);
        int[] positions = [0, 1, 17, 4095];
        var x = RandomRows(4, 3 * 96);
        ComputeTensor Rot(IComputeBackend b) { var t = Up(b, x, 4); b.Rope(t, 3, 96, 32, positions, table); return t; }
        AssertClose(Run(_cpu, Rot), Run(_gpu, Rot), 1e-5f, "rope");
    }

    protected void CheckAttention_and_absorbed_mla_match_the_cpu_backend()
    {
        using var checkpoint = Checkpoint.Open(RepoPaths.Model("tiny-v3-fp8"));
        var weights = WeightMap.Bind(checkpoint);
        var c = weights.Config;
        var shape = new MlaShape(c.NumAttentionHeads, c.QkNopeHeadDim, c.QkRopeHeadDim, c.VHeadDim, c.KvLoraRank, 0.1f);
        TokenSlot[] slots = [new(0, 0, 0), new(1, 0, 1), new(2, 0, 2), new(8, 8, 0), new(9, 8, 1)];
        var q = RandomRows(slots.Length, shape.Heads * (shape.NopeDim + shape.RopeDim));
        var cache = RandomRows(16, shape.LatentDim + shape.RopeDim);
        ComputeTensor Mla(IComputeBackend b)
        {
            var o = b.Allocate(slots.Length, shape.Heads * shape.VDim);
            b.MlaAbsorbedAttention(Up(b, q, slots.Length), Up(b, cache, 16), b.Bind(weights.Blocks[0].Mla!.WkvB), slots, shape, o);
            return o;
        }
        AssertClose(Run(_cpu, Mla), Run(_gpu, Mla), 1e-4f, "absorbed MLA");

        var ashape = new AttentionShape(4, 2, 24, 16, 0.2f);
        var aq = RandomRows(slots.Length, 4 * 24);
        var keys = RandomRows(16, 2 * 24);
        var values = RandomRows(16, 2 * 16);
        ComputeTensor Att(IComputeBackend b)
        {
            var o = b.Allocate(slots.Length, 4 * 16);
            b.Attention(Up(b, aq, slots.Length), Up(b, keys, 16), Up(b, values, 16), slots, ashape, o);
            return o;
        }
        AssertClose(Run(_cpu, Att), Run(_gpu, Att), 1e-5f, "attention");
    }

    protected void CheckCache_writes_gathers_and_scatter_adds_match_the_cpu_backend()
    {
        var src = RandomRows(3, 10);
        var dst = RandomRows(6, 10);
        ComputeTensor Ops(IComputeBackend b)
        {
            var cache = Up(b, dst, 6);
            var s = Up(b, src, 3);
            b.WriteCache(s, cache, [new TokenSlot(5, 0, 0), new TokenSlot(0, 0, 0), new TokenSlot(2, 0, 0)]);
            var gathered = b.Allocate(4, 10);
            b.GatherRows(cache, [5, 5, 1, 0], gathered);
            b.ScatterAddRows(gathered, [1, 1, 3, 0], [0.5f, -2f, 1f, 3f], cache);
            b.Add(cache.RowRange(0, 3), s);
            b.Copy(cache.Columns(0, 4).RowRange(4, 2), cache.Columns(6, 4).RowRange(0, 2));
            return cache;
        }
        AssertClose(Run(_cpu, Ops), Run(_gpu, Ops), 1e-6f, "cache/gather/scatter/add/copy");
    }

    protected void CheckThe_moe_gate_kernel_chooses_what_the_host_gate_chooses(string model)
    {
        using var checkpoint = Checkpoint.Open(RepoPaths.Model(model));
        var weights = WeightMap.Bind(checkpoint);
        var c = weights.Config;
        var moe = weights.Blocks.First(b => b.Moe is not null).Moe!;
        var bias = moe.GateBias?.ToFloatArray();
        int t = 33, e = c.NRoutedExperts, k = c.NumExpertsPerTok;
        var logits = RandomRows(t, e);
        var ids = new int[t * k];
        var w = new float[t * k];
        new Gate(c, bias).Route(logits, t, ids, w);

        var ctx = _gpu.Context;
        using var dl = Upload(ctx, logits);
        using var db = Upload(ctx, bias ?? new float[e]);
        using var dids = ctx.Allocate<int>(t * k);
        using var dw = ctx.Allocate<float>(t * k);
        var method = c.TopKMethod switch { TopKMethod.Greedy => 0, TopKMethod.GroupLimitedGreedy => 1, _ => 2 };
        _gpu.Kernels.Get(new KernelKey("moe_gate")).Launch((t + 63) / 64, 64, new KernelArguments().Add(dl).Add(db).Add(t).Add(e)
            .Add(c.ScoringFunc == ScoringFunction.Sigmoid ? 1 : 0).Add(method).Add(c.NGroup).Add(c.TopKGroup).Add(k)
            .Add(c.NormTopKProb ? 1 : 0).Add((float)c.RoutedScalingFactor).Add(dids).Add(dw));
        Assert.Equal(ids, Download(dids));
        AssertClose(w, Download(dw), 1e-6f, "gate weights");

        // Permutation into the contiguous per-expert layout and back: out = Σ_s w·y[perm(t,s)] with y = x per slot.
        using var plan = ctx.Allocate<int>(e + 1);
        using var perm = ctx.Allocate<int>(t * k);
        _gpu.Kernels.Get(new KernelKey("moe_permute_plan")).Launch(1, 256, new KernelArguments().Add(dids).Add(t * k).Add(e).Add(plan).Add(perm));
        var offsets = Download(plan);
        var rows = Download(perm);
        var expectedOffsets = new int[e + 1];
        foreach (var id in ids) expectedOffsets[id + 1]++;
        for (var i = 0; i < e; i++) expectedOffsets[i + 1] += expectedOffsets[i];
        Assert.Equal(expectedOffsets, offsets);
        Assert.Equal(Enumerable.Range(0, t * k), rows.Order());
        for (var j = 0; j < t * k; j++) Assert.InRange(rows[j], offsets[ids[j]], offsets[ids[j] + 1] - 1);

        var x = RandomRows(t, 20);
        using var dx = Upload(ctx, x);
        using var permuted = ctx.Allocate<float>(t * k * 20);
        using var combined = ctx.Allocate<float>(t * 20);
        combined.Clear();
        _gpu.Kernels.Get(new KernelKey("moe_permute")).Launch((t * k * 20 + 255) / 256, 256, new KernelArguments().Add(dx).Add(20L).Add(perm).Add(t * k).Add(k).Add(20).Add(permuted).Add(20L));
        _gpu.Kernels.Get(new KernelKey("moe_unpermute")).Launch((t * 20 + 255) / 256, 256, new KernelArguments().Add(permuted).Add(20L).Add(perm).Add(dw).Add(t).Add(k).Add(20).Add(combined).Add(20L));
        var expected = new float[t * 20];
        for (var i = 0; i < t; i++)
            for (var s = 0; s < k; s++)
                for (var col = 0; col < 20; col++) expected[i * 20 + col] = MathF.FusedMultiplyAdd(w[i * k + s], x[i * 20 + col], expected[i * 20 + col]);
        AssertClose(expected, Download(combined), 1e-6f, "permute/unpermute");
    }

    protected void CheckSoftmax_and_argmax_match_the_host()
    {
        int rows = 3, vocab = 1000;
        var logits = RandomRows(rows, vocab);
        logits[vocab + 10] = logits[vocab + 900] = 50;   // a tie: the lower id wins
        var ctx = _gpu.Context;
        using var dl = Upload(ctx, logits);
        using var probs = ctx.Allocate<float>(rows * vocab);
        using var ids = ctx.Allocate<int>(rows);
        _gpu.Kernels.Get(new KernelKey("softmax_rows")).Launch(rows, 256, new KernelArguments().Add(dl).Add((long)vocab).Add(probs).Add((long)vocab).Add(vocab).Add(0.7f));
        _gpu.Kernels.Get(new KernelKey("argmax_rows")).Launch(rows, 256, new KernelArguments().Add(dl).Add((long)vocab).Add(ids).Add(vocab));
        var p = Download(probs);
        for (var r = 0; r < rows; r++)
        {
            var row = logits.AsSpan(r * vocab, vocab).ToArray().Select(v => v / 0.7f).ToArray();
            var expected = new float[vocab];
            System.Numerics.Tensors.TensorPrimitives.SoftMax(row, expected);
            AssertClose(expected, p.AsSpan(r * vocab, vocab).ToArray(), 1e-6f, $"softmax row {r}");
        }
        var argmax = Download(ids);
        for (var r = 0; r < rows; r++) Assert.Equal(System.Numerics.Tensors.TensorPrimitives.IndexOfMax(logits.AsSpan(r * vocab, vocab)), argmax[r]);
        Assert.Equal(10, argmax[1]);
    }

    private float[] RandomRows(int rows, int cols) => Enumerable.Range(0, rows * cols).Select(_ => (float)BlockFp8GemmTests.Gaussian(_rng)).ToArray();

    private static ComputeTensor Up(IComputeBackend b, float[] values, int rows)
    {
        var t = b.Allocate(rows, values.Length / rows);
        b.Upload(values, t);
        return t;
    }

    private static float[] Run(IComputeBackend b, Func<IComputeBackend, ComputeTensor> op)
    {
        var t = op(b);
        var host = new float[t.Rows * t.Cols];
        b.Download(t, host);
        return host;
    }

    internal static void AssertClose(float[] expected, float[] actual, float relative, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        var scale = expected.Select(MathF.Abs).DefaultIfEmpty(0).Max();
        for (var i = 0; i < expected.Length; i++)
            Assert.True(MathF.Abs(expected[i] - actual[i]) <= relative * Math.Max(scale, 1e-6f), $"{what}[{i}]: expected {expected[i]}, got {actual[i]} (tolerance {relative} × {scale})");
    }

    private static DeviceBuffer<T> Upload<T>(CudaContext ctx, T[] values) where T : unmanaged
    {
        var b = ctx.Allocate<T>(values.Length);
        b.CopyFrom(values);
        return b;
    }

    private static T[] Download<T>(DeviceBuffer<T> buffer) where T : unmanaged
    {
        var values = new T[buffer.Length];
        buffer.CopyTo(values);
        return values;
    }
}
