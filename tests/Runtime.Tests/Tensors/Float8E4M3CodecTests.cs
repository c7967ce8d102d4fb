using DeepSeek.Runtime.Tensors;

namespace DeepSeek.Runtime.Tests.Tensors;

public class Float8E4M3CodecTests
{
    private static readonly int[] s_vectorWidths = [0, 128, 256, 512];

    // Independent reference from the OCP E4M3FN definition: sign, 4-bit exponent (bias 7), 3-bit mantissa.
    private static double ReferenceValue(int code)
    {
        var sign = (code & 0x80) != 0 ? -1.0 : 1.0;
        var e = (code >> 3) & 0xF;
        var m = code & 0x7;
        if (e == 15 && m == 7) return double.NaN;
        return e == 0 ? sign * (m / 8.0) * Math.Pow(2, -6) : sign * (1 + m / 8.0) * Math.Pow(2, e - 7);
    }

    // Brute-force nearest code with the same sign, ties to the even mantissa, saturating past 448.
    private static byte ReferenceEncode(float value)
    {
        if (float.IsNaN(value)) return (byte)(float.IsNegative(value) ? 0xFF : 0x7F);
        var signBit = float.IsNegative(value) ? 0x80 : 0x00;
        var x = Math.Abs((double)value);
        if (x >= 448) return (byte)(signBit | 0x7E);
        var best = 0;
        var bestDistance = double.PositiveInfinity;
        for (var code = 0; code <= 0x7E; code++)
        {
            var d = Math.Abs(ReferenceValue(code) - x);
            if (d < bestDistance || (d == bestDistance && (code & 1) == 0))
            {
                best = code;
                bestDistance = d;
            }
        }
        return (byte)(signBit | best);
    }

    [Fact]
    public void Every_code_decodes_to_the_bit_field_value()
    {
        var table = Float8E4M3Codec.DecodeTable;
        Assert.Equal(256, table.Length);
        for (var code = 0; code < 256; code++)
        {
            var expected = ReferenceValue(code);
            var actual = Float8E4M3Codec.ToSingle((byte)code);
            if (double.IsNaN(expected))
            {
                Assert.True(float.IsNaN(actual), $"code 0x{code:X2}");
                Assert.Equal(code >= 0x80, float.IsNegative(actual));
            }
            else
            {
                Assert.Equal(BitConverter.SingleToUInt32Bits((float)expected), BitConverter.SingleToUInt32Bits(actual));
            }
            Assert.Equal(BitConverter.SingleToUInt32Bits(actual), BitConverter.SingleToUInt32Bits(table[code]));
        }
    }

    [Fact]
    public void Special_codes_have_their_spec_values()
    {
        Assert.True(float.IsNaN(Float8E4M3Codec.ToSingle(0x7F)));
        Assert.True(float.IsNaN(Float8E4M3Codec.ToSingle(0xFF)));
        Assert.Equal(448f, Float8E4M3Codec.ToSingle(0x7E));
        Assert.Equal(-448f, Float8E4M3Codec.ToSingle(0xFE));
        Assert.Equal(Float8E4M3Codec.MaxValue, Float8E4M3Codec.ToSingle(Float8E4M3Codec.MaxCode));
        Assert.Equal(MathF.Pow(2, -9), Float8E4M3Codec.ToSingle(0x01));
        Assert.Equal(MathF.Pow(2, -6), Float8E4M3Codec.ToSingle(0x08));
        Assert.Equal(1f, Float8E4M3Codec.ToSingle(0x38));
        Assert.Equal(0u, BitConverter.SingleToUInt32Bits(Float8E4M3Codec.ToSingle(0x00)));
        Assert.Equal(0x8000_0000u, BitConverter.SingleToUInt32Bits(Float8E4M3Codec.ToSingle(0x80)));
    }

    [Fact]
    public void Every_non_nan_code_round_trips()
    {
        for (var code = 0; code < 256; code++)
        {
            if ((code & 0x7F) == 0x7F) continue;
            Assert.Equal((byte)code, Float8E4M3Codec.FromSingle(Float8E4M3Codec.ToSingle((byte)code)));
        }
        Assert.Equal(0x00, Float8E4M3Codec.FromSingle(0f));
        Assert.Equal(0x80, Float8E4M3Codec.FromSingle(-0f));
    }

    [Fact]
    public void Midpoints_round_to_even_and_neighbours_to_nearest()
    {
        for (var code = 0; code < 0x7E; code++)
        {
            var lo = ReferenceValue(code);
            var hi = ReferenceValue(code + 1);
            var mid = (float)((lo + hi) / 2);
            Assert.Equal((lo + hi) / 2, (double)mid); // exact in float: at most 5 significant bits
            var even = (code & 1) == 0 ? code : code + 1;
            foreach (var sign in new[] { 0, 0x80 })
            {
                var s = sign == 0 ? 1f : -1f;
                Assert.Equal((byte)(sign | even), Float8E4M3Codec.FromSingle(s * mid));
                Assert.Equal((byte)(sign | (code + 1)), Float8E4M3Codec.FromSingle(s * MathF.BitIncrement(mid)));
                Assert.Equal((byte)(sign | code), Float8E4M3Codec.FromSingle(s * MathF.BitDecrement(mid)));
            }
        }
    }

    [Theory]
    [InlineData(448.0001f)]
    [InlineData(449f)]
    [InlineData(464f)]
    [InlineData(480f)]
    [InlineData(1e6f)]
    [InlineData(float.MaxValue)]
    [InlineData(float.PositiveInfinity)]
    public void Beyond_448_saturates(float value)
    {
        Assert.Equal(0x7E, Float8E4M3Codec.FromSingle(value));
        Assert.Equal(0xFE, Float8E4M3Codec.FromSingle(-value));
    }

    [Fact]
    public void Just_below_448_rounds_to_448_or_416()
    {
        Assert.Equal(0x7E, Float8E4M3Codec.FromSingle(MathF.BitDecrement(448f)));
        Assert.Equal(0x7E, Float8E4M3Codec.FromSingle(432f)); // midpoint of 416 (m=5, odd) and 448 (m=6, even)
        Assert.Equal(0x7D, Float8E4M3Codec.FromSingle(MathF.BitDecrement(432f)));
    }

    [Fact]
    public void Tiny_values_flush_to_signed_zero()
    {
        var halfMinSubnormal = MathF.Pow(2, -10);
        foreach (var v in new[] { halfMinSubnormal, MathF.BitDecrement(halfMinSubnormal), 1e-20f, float.Epsilon })
        {
            Assert.Equal(0x00, Float8E4M3Codec.FromSingle(v));
            Assert.Equal(0x80, Float8E4M3Codec.FromSingle(-v));
        }
        Assert.Equal(0x01, Float8E4M3Codec.FromSingle(MathF.BitIncrement(halfMinSubnormal)));
        Assert.Equal(0x81, Float8E4M3Codec.FromSingle(-MathF.BitIncrement(halfMinSubnormal)));
    }

    [Fact]
    public void Nan_encodes_by_sign()
    {
        var positiveNaN = BitConverter.UInt32BitsToSingle(0x7FC0_0000);
        var negativeNaN = BitConverter.UInt32BitsToSingle(0xFFC0_0000);
        Assert.Equal(0x7F, Float8E4M3Codec.FromSingle(positiveNaN));
        Assert.Equal(0xFF, Float8E4M3Codec.FromSingle(negativeNaN));
        Assert.Equal(0x7F, Float8E4M3Codec.FromSingle(BitConverter.UInt32BitsToSingle(0x7F80_0001))); // signalling
    }

    [Theory]
    [InlineData(0.3f)]
    [InlineData(-1.7f)]
    [InlineData(100.0f)]
    [InlineData(0.001953125f)]
    [InlineData(3.14159f)]
    [InlineData(-0.0123f)]
    public void Known_values_match_the_spec_derived_reference(float value)
    {
        Assert.Equal(ReferenceEncode(value), Float8E4M3Codec.FromSingle(value));
    }

    [Fact]
    public void Known_values_worked_by_hand()
    {
        // 0.3 = 1.2 · 2^-2 → e = 5, m = round(1.6) = 2: 0x2A (0.3125).
        Assert.Equal(0x2A, Float8E4M3Codec.FromSingle(0.3f));
        // 1.7 = 1.7 · 2^0 → e = 7, m = round(5.6) = 6: 0xBE with sign (−1.75).
        Assert.Equal(0xBE, Float8E4M3Codec.FromSingle(-1.7f));
        // 100 = 1.5625 · 2^6 → e = 13, m = 4.5 ties to 4: 0x6C (96).
        Assert.Equal(0x6C, Float8E4M3Codec.FromSingle(100f));
        // 2^-9 is the smallest subnormal: 0x01.
        Assert.Equal(0x01, Float8E4M3Codec.FromSingle(0.001953125f));
    }

    [Fact]
    public void Random_values_match_the_brute_force_reference()
    {
        var rng = new Random(1234);
        for (var i = 0; i < 100_000; i++)
        {
            var magnitude = (float)(rng.NextDouble() * Math.Pow(2, rng.Next(-14, 11)));
            var value = rng.Next(2) == 0 ? magnitude : -magnitude;
            Assert.Equal(ReferenceEncode(value), Float8E4M3Codec.FromSingle(value));
        }
    }

    [Fact]
    public void Span_paths_equal_scalar_for_every_width_and_tail()
    {
        var rng = new Random(42);
        for (var n = 0; n <= 257; n++)
        {
            var codes = new byte[n];
            rng.NextBytes(codes);
            var floats = new float[n];
            for (var i = 0; i < n; i++)
            {
                floats[i] = (i % 7) switch
                {
                    0 => BitConverter.UInt32BitsToSingle((uint)rng.NextInt64(0, 1L << 32)),
                    1 => Float8E4M3Codec.ToSingle(codes[i]),
                    2 => Midpoint(codes[i]), // exact ties exercise round-to-even in the vector lanes too
                    _ => (float)((rng.NextDouble() - 0.5) * Math.Pow(2, rng.Next(-14, 12))),
                };
            }
            foreach (var width in s_vectorWidths)
            {
                var decoded = new float[n + 1];
                decoded[n] = 12345f;
                Float8E4M3Codec.ToSingle(codes, decoded, width);
                for (var i = 0; i < n; i++)
                    Assert.Equal(BitConverter.SingleToUInt32Bits(Float8E4M3Codec.ToSingle(codes[i])), BitConverter.SingleToUInt32Bits(decoded[i]));
                Assert.Equal(12345f, decoded[n]);

                var encoded = new byte[n + 1];
                encoded[n] = 0xAB;
                Float8E4M3Codec.FromSingle(floats, encoded, width);
                for (var i = 0; i < n; i++)
                    Assert.True(Float8E4M3Codec.FromSingle(floats[i]) == encoded[i], $"n={n} width={width} i={i} value={floats[i]:R}");
                Assert.Equal(0xAB, encoded[n]);
            }
            var viaPublic = new float[n];
            Float8E4M3Codec.ToSingle(codes, viaPublic);
            var viaPublicCodes = new byte[n];
            Float8E4M3Codec.FromSingle(floats, viaPublicCodes);
            for (var i = 0; i < n; i++) Assert.Equal(Float8E4M3Codec.FromSingle(floats[i]), viaPublicCodes[i]);
        }
    }

    private static float Midpoint(byte code)
    {
        var c = code & 0x7F;
        if (c >= 0x7E) c = 0x7D;
        var mid = (float)((ReferenceValue(c) + ReferenceValue(c + 1)) / 2);
        return (code & 0x80) != 0 ? -mid : mid;
    }

    [Fact]
    public void Short_destination_throws()
    {
        Assert.Throws<ArgumentException>(() => Float8E4M3Codec.ToSingle(new byte[4], new float[3]));
        Assert.Throws<ArgumentException>(() => Float8E4M3Codec.FromSingle(new float[4], new byte[3]));
    }
}
