using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Compute;
using DeepSeek.Runtime.Compute.Cpu;
using DeepSeek.Runtime.Model;
using DeepSeek.Runtime.Tensors;

namespace DeepSeek.Runtime.Tests.Compute;

/// <summary>CPU kernels against plain scalar loops, over odd sizes and every stored weight dtype.</summary>
public sealed class CpuBackendTests : IDisposable
{
    private readonly TempDir _dir = new();
    private readonly CpuBackend _backend = new(threads: 2);
    private readonly List<SafeTensorsFile> _files = [];

    public void Dispose()
    {
        foreach (var f in _files) f.Dispose();
        _backend.Dispose();
        _dir.Dispose();
    }

    private static float[] Random(int n, int seed, float scale = 1f)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1) * scale).ToArray();
    }

    /// <summary>Stores <paramref name="values"/> [rows, cols] as <paramref name="dtype"/> and binds it; returns the values as stored (rounded).</summary>
    private (ComputeWeight Weight, float[] Stored) Weight(float[] values, int rows, int cols, DType dtype, int block = 128)
    {
        var name = $"w{_files.Count}";
        var w = new SafeTensorsWriter();
        var shape = rows == 1 ? Shape.Of(cols) : Shape.Of(rows, cols);
        switch (dtype)
        {
            case DType.F32: w.AddF32(name, shape, values); break;
            case DType.BF16: w.AddBF16(name, shape, values); break;
            case DType.F16: w.Add(name, DType.F16, shape, values.SelectMany(v => BitConverter.GetBytes((Half)v)).ToArray()); break;
            case DType.F8_E4M3: w.AddFp8Block(name, rows, cols, values, block); break;
        }
        var path = _dir.File(name + ".safetensors");
        w.WriteFile(path);
        var file = SafeTensorsFile.Open(path);
        _files.Add(file);
        var tensor = new CheckpointTensor(file, file.GetInfo(name));
        CheckpointTensor? scale = dtype == DType.F8_E4M3 ? new CheckpointTensor(file, file.GetInfo(name + "_scale_inv")) : null;
        var wt = new WeightTensor(tensor, scale, block, block);
        return (_backend.Bind(wt), wt.ToFloatArray());
    }

    private ComputeTensor Tensor(float[] values, int rows, int cols)
    {
        var t = _backend.Allocate(rows, cols);
        _backend.Upload(values, t);
        return t;
    }

    private float[] Host(ComputeTensor t)
    {
        var v = new float[t.Rows * t.Cols];
        _backend.Download(t, v);
        return v;
    }

    private static void Close(float[] expected, float[] actual, float tolerance)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (var i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tolerance * (1 + Math.Abs(expected[i])), $"element {i}: {expected[i]} vs {actual[i]}");
    }

    public static TheoryData<DType, int, int, int> MatMulCases()
    {
        var data = new TheoryData<DType, int, int, int>();
        foreach (var dtype in new[] { DType.F32, DType.BF16, DType.F16, DType.F8_E4M3 })
            foreach (var (t, o, i) in new[] { (1, 1, 1), (3, 7, 17), (1, 129, 257), (5, 130, 131), (2, 300, 200), (0, 5, 9) })
                data.Add(dtype, t, o, i);
        return data;
    }

    [Theory]
    [MemberData(nameof(MatMulCases))]
    public void MatMul_matches_the_scalar_product_of_the_stored_weights(DType dtype, int tokens, int outputs, int inputs)
    {
        // The fp32 kernels' claim (1e-5 of a double-precision product); the native BF16 GEMM, which rounds the
        // activations to bf16, has its own reference tests (NativeCpuKernelsTests).
        _backend.NativeKernels = false;
        var x = Random(tokens * inputs, 1);
        var (w, stored) = Weight(Random(outputs * inputs, 2, 0.5f), outputs, inputs, dtype);
        var (bias, biasStored) = Weight(Random(outputs, 3), 1, outputs, DType.F32);
        var y = _backend.Allocate(tokens, outputs);
        _backend.MatMul(Tensor(x, tokens, inputs), w, y, bias);

        var expected = new float[tokens * outputs];
        for (var t = 0; t < tokens; t++)
            for (var o = 0; o < outputs; o++)
            {
                double s = biasStored[o];
                for (var i = 0; i < inputs; i++) s += (double)x[t * inputs + i] * stored[o * inputs + i];
                expected[t * outputs + o] = (float)s;
            }
        Close(expected, Host(y), 1e-5f);
    }

    [Fact]
    public void Fp8_weights_use_their_block_scale_in_both_axes()
    {
        // 3×3 blocks of size 2 on a 5×5 matrix: partial last block in each axis, one scale each.
        var values = Random(25, 4);
        for (var i = 0; i < 25; i++) values[i] *= 1 + (i / 5 / 2) * 10 + (i % 5 / 2) * 100;
        var (w, stored) = Weight(values, 5, 5, DType.F8_E4M3, block: 2);
        var x = new float[5];
        for (var col = 0; col < 5; col++)
        {
            Array.Clear(x);
            x[col] = 1;
            var y = _backend.Allocate(1, 5);
            _backend.MatMul(Tensor(x, 1, 5), w, y);
            var got = Host(y);
            for (var row = 0; row < 5; row++)
            {
                Assert.Equal(stored[row * 5 + col], got[row]);
                Assert.True(Math.Abs(stored[row * 5 + col] - values[row * 5 + col]) <= Math.Abs(values[row * 5 + col]) / 14 + 1e-6, "E4M3 rounding bound");
            }
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(17)]
    [InlineData(160)]
    [InlineData(257)]
    public void RmsNorm_matches_the_definition(int dim)
    {
        var x = Random(3 * dim, 5, 3);
        var (w, stored) = Weight(Random(dim, 6), 1, dim, DType.BF16);
        var y = _backend.Allocate(3, dim);
        _backend.RmsNorm(Tensor(x, 3, dim), w, 1e-6f, y);
        var expected = new float[3 * dim];
        for (var r = 0; r < 3; r++)
        {
            var ms = Enumerable.Range(0, dim).Sum(i => (double)x[r * dim + i] * x[r * dim + i]) / dim;
            for (var i = 0; i < dim; i++) expected[r * dim + i] = (float)(x[r * dim + i] / Math.Sqrt(ms + 1e-6) * stored[i]);
        }
        Close(expected, Host(y), 1e-5f);
    }

    [Theory]
    [InlineData(RopeLayout.Interleaved)]
    [InlineData(RopeLayout.Half)]
    public void Rope_rotates_the_right_pairs_in_the_right_slice(RopeLayout layout)
    {
        // 2 heads of 12 dims; rotate the last 8 of each (like MLA's q_pe after q_nope).
        const int heads = 2, headDim = 12, offset = 4, dim = 8;
        var table = RopeTable.Create(dim, 10000, null, 16, layout);
        var x = Random(3 * heads * headDim, 7);
        var t = Tensor(x, 3, heads * headDim);
        int[] positions = [0, 5, 15];
        _backend.Rope(t, heads, headDim, offset, positions, table);
        var got = Host(t);
        for (var r = 0; r < 3; r++)
            for (var h = 0; h < heads; h++)
            {
                var b = r * heads * headDim + h * headDim;
                for (var i = 0; i < offset; i++) Assert.Equal(x[b + i], got[b + i]);   // nope part untouched
                for (var i = 0; i < dim / 2; i++)
                {
                    var angle = positions[r] * Math.Pow(10000, -2.0 * i / dim);
                    var (a, c) = layout == RopeLayout.Interleaved ? (offset + 2 * i, offset + 2 * i + 1) : (offset + i, offset + i + dim / 2);
                    Assert.Equal(x[b + a] * Math.Cos(angle) - x[b + c] * Math.Sin(angle), got[b + a], 5);
                    Assert.Equal(x[b + a] * Math.Sin(angle) + x[b + c] * Math.Cos(angle), got[b + c], 5);
                }
            }
    }

    [Theory]
    [InlineData(4, 4, 8, 6, 9)]
    [InlineData(6, 2, 5, 3, 9)]
    [InlineData(1, 1, 1, 1, 9)]
    [InlineData(6, 2, 20, 17, 150)]   // groups of 3 (a head pair and a lone head), past two 64-position blocks
    [InlineData(4, 1, 64, 128, 70)]
    public void Attention_matches_naive_causal_softmax(int heads, int kvHeads, int qkDim, int vDim, int tokens)
    {
        var q = Random(tokens * heads * qkDim, 8);
        var k = Random(tokens * kvHeads * qkDim, 9, 2);
        var v = Random(tokens * kvHeads * vDim, 10);
        var slots = Enumerable.Range(0, tokens).Select(i => new TokenSlot(i, 0, i)).ToArray();
        var o = _backend.Allocate(tokens, heads * vDim);
        _backend.Attention(Tensor(q, tokens, heads * qkDim), Tensor(k, tokens, kvHeads * qkDim), Tensor(v, tokens, kvHeads * vDim), slots,
            new AttentionShape(heads, kvHeads, qkDim, vDim, 0.7f), o);

        var expected = new float[tokens * heads * vDim];
        for (var t = 0; t < tokens; t++)
            for (var h = 0; h < heads; h++)
            {
                var kh = h / (heads / kvHeads);
                var s = new double[t + 1];
                for (var j = 0; j <= t; j++)
                    for (var d = 0; d < qkDim; d++) s[j] += 0.7 * q[(t * heads + h) * qkDim + d] * k[(j * kvHeads + kh) * qkDim + d];
                var max = s.Max();
                var z = s.Sum(e => Math.Exp(e - max));
                for (var d = 0; d < vDim; d++)
                    expected[(t * heads + h) * vDim + d] = (float)Enumerable.Range(0, t + 1).Sum(j => Math.Exp(s[j] - max) / z * v[(j * kvHeads + kh) * vDim + d]);
            }
        var got = Host(o);
        Close(expected, got, 1e-5f);

        // Each row alone (a decode step) gives its batched values bit for bit.
        foreach (var t in new[] { 0, tokens / 2, tokens - 1 })
        {
            var alone = _backend.Allocate(1, heads * vDim);
            _backend.Attention(Tensor(q.AsSpan(t * heads * qkDim, heads * qkDim).ToArray(), 1, heads * qkDim), Tensor(k, tokens, kvHeads * qkDim),
                Tensor(v, tokens, kvHeads * vDim), [slots[t]], new AttentionShape(heads, kvHeads, qkDim, vDim, 0.7f), alone);
            Assert.Equal(got.AsSpan(t * heads * vDim, heads * vDim).ToArray(), Host(alone));
        }
    }

    [Fact]
    public void Gather_and_scatter_add_route_rows()
    {
        var x = Random(4 * 3, 11);
        var picked = _backend.Allocate(3, 3);
        _backend.GatherRows(Tensor(x, 4, 3), [2, 0, 2], picked);
        Assert.Equal(x[6..9].Concat(x[0..3]).Concat(x[6..9]), Host(picked));

        var acc = _backend.Allocate(4, 3);
        _backend.ScatterAddRows(picked, [1, 1, 3], [0.5f, 2f, -1f], acc);
        var got = Host(acc);
        for (var c = 0; c < 3; c++)
        {
            Assert.Equal(0.5f * x[6 + c] + 2f * x[c], got[3 + c], 5);
            Assert.Equal(-x[6 + c], got[9 + c], 5);
            Assert.Equal(0f, got[c]);
        }
    }

    [Fact]
    public void Column_slices_share_storage()
    {
        var t = Tensor(Enumerable.Range(0, 12).Select(i => (float)i).ToArray(), 3, 4);
        var right = t.Columns(2, 2);
        var ones = Tensor([1, 1, 1, 1, 1, 1], 3, 2);
        _backend.Add(right, ones);
        Assert.Equal([0f, 1, 3, 4, 4, 5, 7, 8, 8, 9, 11, 12], Host(t));
        Assert.Throws<ArgumentOutOfRangeException>(() => t.Columns(3, 2));
        Assert.Throws<ArgumentException>(() => _backend.Add(t, ones));
    }
}
