using DeepSeek.Runtime.Tensors;

namespace DeepSeek.Runtime.Compute.Cpu;

/// <summary>
/// CPU twin of the GPU's block-scaled FP8 GEMM (<c>native/ptx/gemm.cu</c>: <c>act_quant_fp8</c>, <c>fp8_gemm</c>,
/// <c>fp8_gemm_grouped</c>), step for step, so its numerics are tested without a GPU and the GPU kernel is held to it:
/// <list type="bullet">
/// <item>activations quantised per 1×128 tile: <c>scale = amax / 448</c> (1 for an all-zero tile), <c>code = E4M3(x / scale)</c>
/// (round to nearest even, saturating), as DeepSeek-V3's <c>act_quant</c>;</item>
/// <item>weights per 128×128 block with their checkpoint <c>scale_inv</c> grid;</item>
/// <item>for each 128-wide block of K, the raw code products are summed in fp32 in k order (the tensor cores' partial
/// accumulator), then promoted into the fp32 accumulator once: <c>acc = fma(partial, sa·sb, acc)</c> (V3 report §3.3.2:
/// promotion every 128 elements of K).</item>
/// </list>
/// Every product of two E4M3 values is exact in fp32 and every add is a fused multiply-add in the same order as the
/// kernel, so a correct kernel matches this twin to the bit (up to the sign of zero). The tensor-core kernel
/// (<c>fp8_gemm_mma</c>) sums inside each 128-block in the hardware's order instead and is held to
/// <see cref="ReorderingBound"/>.
/// </summary>
public static class BlockFp8Gemm
{
    /// <summary>Tile and block size along K (and weight block size along N).</summary>
    public const int BlockSize = 128;

    /// <summary>Scale tiles per row for <paramref name="k"/> columns.</summary>
    public static int KBlocks(int k) => (k + BlockSize - 1) / BlockSize;

    /// <summary>
    /// Quantises x [rows, cols] (row-major) into E4M3 <paramref name="codes"/> [rows, cols] and fp32
    /// <paramref name="scales"/> [rows, ceil(cols/128)].
    /// </summary>
    /// <exception cref="ArgumentException">A span is shorter than the shape needs.</exception>
    public static void QuantizeActivations(ReadOnlySpan<float> x, int rows, int cols, Span<byte> codes, Span<float> scales)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        ArgumentOutOfRangeException.ThrowIfNegative(cols);
        var kb = KBlocks(cols);
        Need(x.Length, (long)rows * cols, nameof(x));
        Need(codes.Length, (long)rows * cols, nameof(codes));
        Need(scales.Length, (long)rows * kb, nameof(scales));
        for (var r = 0; r < rows; r++)
        {
            for (var b = 0; b < kb; b++)
            {
                var c0 = b * BlockSize;
                var tile = x.Slice(r * cols + c0, Math.Min(BlockSize, cols - c0));
                var amax = 0f;
                foreach (var v in tile)
                {
                    var a = MathF.Abs(v);
                    if (a > amax) amax = a;   // NaN never wins, as fmaxf on the GPU
                }
                var scale = amax == 0f ? 1f : amax / Float8E4M3Codec.MaxValue;
                scales[r * kb + b] = scale;
                var dst = codes.Slice(r * cols + c0, tile.Length);
                for (var i = 0; i < tile.Length; i++) dst[i] = Float8E4M3Codec.FromSingle(tile[i] / scale);
            }
        }
    }

    /// <summary>
    /// c [m, n] = A·Bᵀ with A = codes <paramref name="a"/> [m, k] × <paramref name="aScales"/> [m, ceil(k/128)] and
    /// B = codes <paramref name="b"/> [n, k] × <paramref name="bScales"/> [ceil(n/128), ceil(k/128)].
    /// </summary>
    /// <exception cref="ArgumentException">A span is shorter than the shapes need.</exception>
    public static void Gemm(ReadOnlySpan<byte> a, ReadOnlySpan<float> aScales, int m, int k,
        ReadOnlySpan<byte> b, ReadOnlySpan<float> bScales, int n, Span<float> c)
    {
        var kb = CheckOperands(a, aScales, m, k, b, bScales, n);
        Need(c.Length, (long)m * n, nameof(c));

        var bRows = new float[(long)n * k];
        Float8E4M3Codec.ToSingle(b[..bRows.Length], bRows);
        var aRow = new float[k];
        for (var i = 0; i < m; i++)
        {
            Float8E4M3Codec.ToSingle(a.Slice(i * k, k), aRow);
            for (var j = 0; j < n; j++)
            {
                var bRow = bRows.AsSpan(j * k, k);
                var acc = 0f;
                for (var blk = 0; blk < kb; blk++)
                {
                    var partial = 0f;
                    var end = Math.Min(k, (blk + 1) * BlockSize);
                    for (var kk = blk * BlockSize; kk < end; kk++) partial = MathF.FusedMultiplyAdd(aRow[kk], bRow[kk], partial);
                    var s = aScales[i * kb + blk] * bScales[j / BlockSize * kb + blk];
                    acc = MathF.FusedMultiplyAdd(partial, s, acc);
                }
                c[i * n + j] = acc;
            }
        }
    }

    /// <summary>
    /// Grouped GEMM over the MoE contiguous layout: rows [offsets[g], offsets[g+1]) of <paramref name="a"/> multiply
    /// expert g's weights b[g] = <paramref name="b"/>[g·n·k …] with scales <paramref name="bScales"/>[g·ceil(n/128)·ceil(k/128) …].
    /// </summary>
    /// <exception cref="ArgumentException">Offsets are not non-decreasing from 0, or a span is too short.</exception>
    public static void GroupedGemm(ReadOnlySpan<byte> a, ReadOnlySpan<float> aScales, ReadOnlySpan<int> offsets, int k,
        ReadOnlySpan<byte> b, ReadOnlySpan<float> bScales, int n, Span<float> c)
    {
        if (offsets.Length < 1 || offsets[0] != 0) throw new ArgumentException("group offsets must start at 0", nameof(offsets));
        var groups = offsets.Length - 1;
        long kb = KBlocks(k), bBlock = KBlocks(n) * kb;
        for (var g = 0; g < groups; g++)
        {
            int first = offsets[g], rows = offsets[g + 1] - first;
            if (rows < 0) throw new ArgumentException($"group offsets decrease at group {g}", nameof(offsets));
            Need(b.Length, (g + 1L) * n * k, nameof(b));
            Need(bScales.Length, (g + 1) * bBlock, nameof(bScales));
            Need(a.Length, (long)(first + rows) * k, nameof(a));
            Need(aScales.Length, (first + rows) * kb, nameof(aScales));
            Need(c.Length, (long)(first + rows) * n, nameof(c));
            Gemm(a.Slice(first * k, rows * k), aScales.Slice((int)(first * kb), (int)(rows * kb)), rows, k,
                b.Slice(g * n * k, n * k), bScales.Slice((int)(g * bBlock), (int)bBlock), n, c.Slice(first * n, rows * n));
        }
    }

    /// <summary>y [m, n] = x [m, k] · Wᵀ for a block-FP8 weight (codes [n, k], scale_inv grid): quantise x, then <see cref="Gemm"/>.</summary>
    public static void Linear(ReadOnlySpan<float> x, int m, int k, ReadOnlySpan<byte> weightCodes, ReadOnlySpan<float> weightScales, int n, Span<float> y)
    {
        var codes = new byte[(long)m * k];
        var scales = new float[(long)m * KBlocks(k)];
        QuantizeActivations(x, m, k, codes, scales);
        Gemm(codes, scales, m, k, weightCodes, weightScales, n, y);
    }

    /// <summary>
    /// The largest |c − <see cref="Gemm"/>| at each output of c [m, n] for a kernel that computes the same thing but sums
    /// the products inside each 128-block of K in its own order (tensor cores: <c>fp8_gemm_mma</c>). Both form, per
    /// block b, the fp32 sum p_b of exact products a_k·b_k (L = min(k, 128) terms) and promote acc = fma(p_b, s_b, acc)
    /// with s_b = sa·sb. This twin sums in k order: |error| ≤ (L−1)·u·Σ|a_k·b_k| (u = 2⁻²⁴). A tensor core sums in an
    /// unspecified order and may align the 16 products of one mma and its accumulator to the largest and truncate: each
    /// of those 17 terms loses under 2u of the largest, so ≤ 17·2u·Σ per mma and ≤ (17/8)·L·u·Σ|a_k·b_k| over the L/16 mmas
    /// of a block. A difference δ_b in p_b reaches the output as |s_b|·δ_b, and the promotions, now rounding different
    /// values, may differ by one rounding each: ≤ u·Σ_b|s_b·p_b|. So |Δc| ≤ (3.2·L + 1)·u·Σ_b |s_b|·Σ_{k∈b}|a_k·b_k|;
    /// the bound uses (4L + 2), a margin over that and its own float64 evaluation. A layout or indexing error moves
    /// outputs by whole products, far above it.
    /// </summary>
    /// <exception cref="ArgumentException">A span is shorter than the shapes need.</exception>
    public static double[] ReorderingBound(ReadOnlySpan<byte> a, ReadOnlySpan<float> aScales, int m, int k,
        ReadOnlySpan<byte> b, ReadOnlySpan<float> bScales, int n)
    {
        var kb = CheckOperands(a, aScales, m, k, b, bScales, n);
        var factor = (4.0 * Math.Min(k, BlockSize) + 2) * Math.ScaleB(1.0, -24);
        var av = new float[(long)m * k];
        var bv = new float[(long)n * k];
        Float8E4M3Codec.ToSingle(a[..av.Length], av);
        Float8E4M3Codec.ToSingle(b[..bv.Length], bv);
        var bound = new double[(long)m * n];
        for (var i = 0; i < m; i++)
            for (var j = 0; j < n; j++)
            {
                double total = 0;
                for (var blk = 0; blk < kb; blk++)
                {
                    double sum = 0;
                    for (int kk = blk * BlockSize, end = Math.Min(k, kk + BlockSize); kk < end; kk++)
                        sum += Math.Abs((double)av[(long)i * k + kk] * bv[(long)j * k + kk]);
                    total += sum * Math.Abs((double)aScales[i * kb + blk] * bScales[j / BlockSize * kb + blk]);
                }
                bound[(long)i * n + j] = factor * total;
            }
        return bound;
    }

    /// <summary>The guards of a dense A·Bᵀ: non-negative shapes and operand spans long enough for them; returns ceil(k/128).</summary>
    private static int CheckOperands(ReadOnlySpan<byte> a, ReadOnlySpan<float> aScales, int m, int k, ReadOnlySpan<byte> b, ReadOnlySpan<float> bScales, int n)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(m);
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        ArgumentOutOfRangeException.ThrowIfNegative(k);
        var kb = KBlocks(k);
        Need(a.Length, (long)m * k, nameof(a));
        Need(aScales.Length, (long)m * kb, nameof(aScales));
        Need(b.Length, (long)n * k, nameof(b));
        Need(bScales.Length, (long)KBlocks(n) * kb, nameof(bScales));
        return kb;
    }

    private static void Need(long have, long need, string name)
    {
        if (have < need) throw new ArgumentException($"{name} holds {have} elements; the shapes need {need}", name);
    }
}
