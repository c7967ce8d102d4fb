using DeepSeek.Runtime.Tensors;

namespace DeepSeek.Runtime.Tests.Tensors;

public class BFloat16CodecTests
{
    private static readonly int[] s_vectorWidths = [0, 128, 256, 512];

    // Independent reference: pick the nearer of the two bf16 neighbours by exact double arithmetic, ties to even;
    // the neighbour past the largest finite bf16 is 2^128 (IEEE rounds as if the exponent were unbounded).
    private static ushort ReferenceRound(float value)
    {
        var bits = BitConverter.SingleToUInt32Bits(value);
        var down = (ushort)(bits >> 16);
        if ((bits & 0xFFFF) == 0) return down;
        var up = (ushort)(down + 1);
        var x = Math.Abs((double)value);
        var downValue = Math.Abs((double)BFloat16Codec.ToSingle(down));
        var upValue = (up & 0x7FFF) == 0x7F80 ? Math.Pow(2, 128) : Math.Abs((double)BFloat16Codec.ToSingle(up));
        var dDown = x - downValue;
        var dUp = upValue - x;
        if (dDown < dUp) return down;
        if (dUp < dDown) return up;
        return (down & 1) == 0 ? down : up;
    }

    [Fact]
    public void Widening_is_a_shift()
    {
        Assert.Equal(1f, BFloat16Codec.ToSingle(0x3F80));
        Assert.Equal(-2f, BFloat16Codec.ToSingle(0xC000));
        Assert.Equal(float.PositiveInfinity, BFloat16Codec.ToSingle(0x7F80));
        Assert.Equal(0x8000_0000u, BitConverter.SingleToUInt32Bits(BFloat16Codec.ToSingle(0x8000)));
    }

    [Fact]
    public void All_65536_patterns_round_trip()
    {
        for (var b = 0; b < 65536; b++)
        {
            var f = BFloat16Codec.ToSingle((ushort)b);
            Assert.Equal((uint)b << 16, BitConverter.SingleToUInt32Bits(f));
            var back = BFloat16Codec.FromSingle(f);
            if (float.IsNaN(f))
            {
                Assert.True(float.IsNaN(BFloat16Codec.ToSingle(back)), $"0x{b:X4}");
                Assert.Equal(b & 0x8000, back & 0x8000);
            }
            else
            {
                Assert.Equal((ushort)b, back);
            }
        }
    }

    [Fact]
    public void Random_floats_round_to_nearest_even()
    {
        var rng = new Random(20240611);
        var checkedCount = 0;
        for (var i = 0; i < 1_000_000; i++)
        {
            var bits = (uint)rng.NextInt64(0, 1L << 32);
            if (i % 4 == 0) bits = (bits & 0xFFFF_0000) | 0x8000; // exact ties
            var f = BitConverter.UInt32BitsToSingle(bits);
            if (float.IsNaN(f)) continue;
            var expected = ReferenceRound(f);
            var actual = BFloat16Codec.FromSingle(f);
            if (expected != actual) Assert.Fail($"0x{bits:X8} ({f:R}): expected 0x{expected:X4}, got 0x{actual:X4}");
            checkedCount++;
        }
        Assert.True(checkedCount > 990_000);
    }

    [Fact]
    public void Edge_values_round_as_ieee()
    {
        Assert.Equal(0x7F80, BFloat16Codec.FromSingle(float.PositiveInfinity));
        Assert.Equal(0xFF80, BFloat16Codec.FromSingle(float.NegativeInfinity));
        Assert.Equal(0x7F80, BFloat16Codec.FromSingle(float.MaxValue));   // rounds past the largest bf16
        Assert.Equal(0xFF80, BFloat16Codec.FromSingle(float.MinValue));
        Assert.Equal(0x7F7F, BFloat16Codec.FromSingle(BitConverter.UInt32BitsToSingle(0x7F7F_7FFF)));
        Assert.Equal(0x3F80, BFloat16Codec.FromSingle(BitConverter.UInt32BitsToSingle(0x3F80_8000))); // tie, even below
        Assert.Equal(0x3F82, BFloat16Codec.FromSingle(BitConverter.UInt32BitsToSingle(0x3F81_8000))); // tie, even above
        Assert.Equal(0x8000, BFloat16Codec.FromSingle(-0f));
        Assert.Equal(0x0000, BFloat16Codec.FromSingle(float.Epsilon));
        var nanLowPayload = BitConverter.UInt32BitsToSingle(0xFF80_0001); // truncation alone would make −Inf
        var r = BFloat16Codec.FromSingle(nanLowPayload);
        Assert.True(float.IsNaN(BFloat16Codec.ToSingle(r)));
        Assert.Equal(0x8000, r & 0x8000);
    }

    [Fact]
    public void Span_paths_equal_scalar_for_every_width_and_tail()
    {
        var rng = new Random(7);
        for (var n = 0; n <= 257; n++)
        {
            var halves = new ushort[n];
            var floats = new float[n];
            for (var i = 0; i < n; i++)
            {
                halves[i] = (ushort)rng.Next(65536);
                var bits = (uint)rng.NextInt64(0, 1L << 32);
                if (i % 5 == 0) bits = (bits & 0xFFFF_0000) | 0x8000;
                floats[i] = BitConverter.UInt32BitsToSingle(bits);
            }
            foreach (var width in s_vectorWidths)
            {
                var wide = new float[n + 1];
                wide[n] = 7f;
                BFloat16Codec.ToSingle(halves, wide, width);
                for (var i = 0; i < n; i++) Assert.Equal((uint)halves[i] << 16, BitConverter.SingleToUInt32Bits(wide[i]));
                Assert.Equal(7f, wide[n]);

                var narrow = new ushort[n + 1];
                narrow[n] = 0xBEEF;
                BFloat16Codec.FromSingle(floats, narrow, width);
                for (var i = 0; i < n; i++)
                    Assert.True(BFloat16Codec.FromSingle(floats[i]) == narrow[i], $"n={n} width={width} i={i}");
                Assert.Equal(0xBEEF, narrow[n]);
            }
            var viaPublic = new ushort[n];
            BFloat16Codec.FromSingle(floats, viaPublic);
            for (var i = 0; i < n; i++) Assert.Equal(BFloat16Codec.FromSingle(floats[i]), viaPublic[i]);
        }
    }

    [Fact]
    public void Short_destination_throws()
    {
        Assert.Throws<ArgumentException>(() => BFloat16Codec.ToSingle(new ushort[4], new float[3]));
        Assert.Throws<ArgumentException>(() => BFloat16Codec.FromSingle(new float[4], new ushort[3]));
    }
}
