using DeepSeek.Runtime.Tensors;

namespace DeepSeek.Runtime.Tests.Tensors;

public class BlockFp8Tests
{
    public static TheoryData<int, int, int, int> Shapes => new()
    {
        { 300, 200, 128, 128 },
        { 128, 128, 128, 128 },
        { 129, 257, 128, 128 },
        { 1, 1, 128, 128 },
        { 127, 3, 128, 128 },
        { 37, 53, 8, 16 },
        { 0, 5, 128, 128 },
    };

    private static (byte[] Codes, float[] Scales, int GridRows, int GridCols) RandomMatrix(int rows, int cols, int br, int bc, int seed)
    {
        var rng = new Random(seed);
        var codes = new byte[rows * cols];
        rng.NextBytes(codes);
        for (var i = 0; i < codes.Length; i++)
            if ((codes[i] & 0x7F) == 0x7F) codes[i] ^= 0x01; // no NaN codes: values must compare exactly
        var (gr, gc) = BlockFp8.ScaleGridShape(rows, cols, br, bc);
        var scales = new float[gr * gc];
        for (var i = 0; i < scales.Length; i++) scales[i] = (float)(rng.NextDouble() * Math.Pow(2, rng.Next(-12, 4)));
        return (codes, scales, gr, gc);
    }

    [Fact]
    public void Scale_grid_is_the_ceiling_of_the_block_counts()
    {
        Assert.Equal((3, 2), BlockFp8.ScaleGridShape(300, 200));
        Assert.Equal((1, 1), BlockFp8.ScaleGridShape(128, 128));
        Assert.Equal((2, 3), BlockFp8.ScaleGridShape(129, 257));
        Assert.Equal((1, 1), BlockFp8.ScaleGridShape(1, 1));
        Assert.Equal((0, 0), BlockFp8.ScaleGridShape(0, 0));
        Assert.Equal((56, 16), BlockFp8.ScaleGridShape(7168, 2048)); // V3 down_proj
        Assert.Equal((5, 4), BlockFp8.ScaleGridShape(37, 53, 8, 16));
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Dequantize_equals_the_elementwise_definition(int rows, int cols, int br, int bc)
    {
        var (codes, scales, _, gc) = RandomMatrix(rows, cols, br, bc, rows * 1000 + cols);
        var dst = new float[rows * cols];
        BlockFp8.Dequantize(codes, rows, cols, scales, dst, br, bc);
        for (var r = 0; r < rows; r++)
            for (var c = 0; c < cols; c++)
            {
                var expected = Float8E4M3Codec.ToSingle(codes[r * cols + c]) * scales[(r / br) * gc + (c / bc)];
                Assert.Equal(BitConverter.SingleToUInt32Bits(expected), BitConverter.SingleToUInt32Bits(dst[r * cols + c]));
            }
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Every_tile_equals_its_region_of_the_whole(int rows, int cols, int br, int bc)
    {
        var (codes, scales, gr, gc) = RandomMatrix(rows, cols, br, bc, rows + cols * 7);
        var whole = new float[rows * cols];
        BlockFp8.Dequantize(codes, rows, cols, scales, whole, br, bc);
        for (var tr = 0; tr < gr; tr++)
            for (var tc = 0; tc < gc; tc++)
            {
                var tileRows = Math.Min(br, rows - tr * br);
                var tileCols = Math.Min(bc, cols - tc * bc);
                var tile = new float[tileRows * tileCols];
                BlockFp8.DequantizeTile(codes, rows, cols, scales, tr, tc, tile, br, bc);
                for (var r = 0; r < tileRows; r++)
                    for (var c = 0; c < tileCols; c++)
                        Assert.Equal(whole[(tr * br + r) * cols + tc * bc + c], tile[r * tileCols + c]);
            }
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Quantize_then_dequantize_is_within_half_a_step(int rows, int cols, int br, int bc)
    {
        var rng = new Random(rows ^ (cols << 8));
        var (gr, gc) = BlockFp8.ScaleGridShape(rows, cols, br, bc);
        var blockMagnitude = new double[gr * gc];
        for (var i = 0; i < blockMagnitude.Length; i++) blockMagnitude[i] = Math.Pow(2, rng.Next(-20, 10));
        if (blockMagnitude.Length > 0) blockMagnitude[0] = 0; // one all-zero block: scale 1, codes 0
        var weights = new float[rows * cols];
        for (var r = 0; r < rows; r++)
            for (var c = 0; c < cols; c++)
                weights[r * cols + c] = (float)((rng.NextDouble() * 2 - 1) * blockMagnitude[(r / br) * gc + c / bc]);

        var codes = new byte[rows * cols];
        var scales = new float[gr * gc];
        BlockFp8.Quantize(weights, rows, cols, codes, scales, br, bc);
        var back = new float[rows * cols];
        BlockFp8.Dequantize(codes, rows, cols, scales, back, br, bc);

        for (var b = 0; b < scales.Length; b++)
        {
            var (r0, c0) = (b / gc * br, b % gc * bc);
            var amax = 0f;
            for (var r = r0; r < Math.Min(rows, r0 + br); r++)
                for (var c = c0; c < Math.Min(cols, c0 + bc); c++)
                    amax = Math.Max(amax, Math.Abs(weights[r * cols + c]));
            Assert.Equal(amax == 0 ? 1f : amax / 448f, scales[b]);
        }
        for (var r = 0; r < rows; r++)
            for (var c = 0; c < cols; c++)
            {
                var i = r * cols + c;
                var scale = scales[(r / br) * gc + c / bc];
                var q = Math.Abs((double)weights[i] / scale);
                // Spacing of E4M3 values around q: 2^-9 among subnormals, else 2^(floor(log2 q) − 3).
                var step = q < Math.Pow(2, -6) ? Math.Pow(2, -9) : Math.Pow(2, Math.Floor(Math.Log2(q)) - 3);
                var bound = 0.5 * step * scale * (1 + 1e-6) + Math.Abs(weights[i]) * 1e-6;
                Assert.True(Math.Abs(back[i] - (double)weights[i]) <= bound, $"[{r},{c}] w={weights[i]:R} back={back[i]:R} bound={bound:R}");
                Assert.Equal(Float8E4M3Codec.FromSingle(weights[i] / scale), codes[i]);
            }
    }

    [Fact]
    public void Block_maximum_maps_to_448()
    {
        var weights = new float[] { 0.5f, -3f, 1f, 2f };
        var codes = new byte[4];
        var scales = new float[1];
        BlockFp8.Quantize(weights, 2, 2, codes, scales);
        Assert.Equal(3f / 448f, scales[0]);
        Assert.Equal(0xFE, codes[1]);
    }

    [Fact]
    public void Bad_arguments_throw_argument_exceptions()
    {
        var codes = new byte[300 * 200];
        var scales = new float[6];
        var dst = new float[300 * 200];
        Assert.Throws<ArgumentException>(() => BlockFp8.Dequantize(codes.AsSpan(1), 300, 200, scales, dst));
        Assert.Throws<ArgumentException>(() => BlockFp8.Dequantize(codes, 300, 200, scales.AsSpan(1), dst));
        Assert.Throws<ArgumentException>(() => BlockFp8.Dequantize(codes, 300, 200, scales, dst.AsSpan(1)));
        Assert.Throws<ArgumentException>(() => BlockFp8.Dequantize(codes, 300, 200, scales, dst, 0, 128));
        Assert.Throws<ArgumentException>(() => BlockFp8.Dequantize(codes, 300, 200, scales, dst, 128, -1));
        Assert.Throws<ArgumentException>(() => BlockFp8.Dequantize(codes, -1, 200, scales, dst));
        Assert.Throws<ArgumentException>(() => BlockFp8.DequantizeTile(codes, 300, 200, scales, 3, 0, dst));
        Assert.Throws<ArgumentException>(() => BlockFp8.DequantizeTile(codes, 300, 200, scales, 0, 2, dst));
        Assert.Throws<ArgumentException>(() => BlockFp8.DequantizeTile(codes, 300, 200, scales, -1, 0, dst));
        Assert.Throws<ArgumentException>(() => BlockFp8.DequantizeTile(codes, 300, 200, scales, 2, 1, new float[44 * 72 - 1]));
        BlockFp8.DequantizeTile(codes, 300, 200, scales, 2, 1, new float[44 * 72]); // exact partial tile fits
        Assert.Throws<ArgumentException>(() => BlockFp8.Quantize(new float[10], 300, 200, codes, scales));
        Assert.Throws<ArgumentException>(() => BlockFp8.Quantize(dst, 300, 200, codes.AsSpan(1), scales));
        Assert.Throws<ArgumentException>(() => BlockFp8.Quantize(dst, 300, 200, codes, new float[5]));
        Assert.Throws<ArgumentOutOfRangeException>(() => BlockFp8.ScaleGridShape(1, 1, 0, 1));
        var ex = Assert.Throws<ArgumentException>(() => BlockFp8.Dequantize(codes, 300, 200, new float[5], dst));
        Assert.Contains("expected at least 6", ex.Message);
    }
}
