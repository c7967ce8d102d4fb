using DeepSeek.Interop.Cuda;
using DeepSeek.Runtime.Compute.Cpu;
using DeepSeek.Runtime.Tensors;

namespace DeepSeek.Benchmarks.Gpu;

/// <summary>Seeded random inputs and the small host↔device helpers the sections share.</summary>
internal static class HostData
{
    /// <summary>Random E4M3 codes, NaN codes (0x7F, 0xFF) replaced by the largest finite ones.</summary>
    public static byte[] Fp8Codes(Random rng, long count)
    {
        var codes = new byte[count];
        rng.NextBytes(codes);
        for (var i = 0; i < codes.Length; i++)
            if ((codes[i] & 0x7F) == 0x7F) codes[i]--;
        return codes;
    }

    /// <summary>Positive scales spread over two octaves around 1/448 (amax/448, as the quantiser produces).</summary>
    public static float[] Scales(Random rng, long count)
    {
        var s = new float[count];
        for (var i = 0; i < s.Length; i++) s[i] = (float)((0.5 + 1.5 * rng.NextDouble()) / 448.0);
        return s;
    }

    /// <summary>Uniform values in [-1, 1).</summary>
    public static float[] Floats(Random rng, long count)
    {
        var v = new float[count];
        for (var i = 0; i < v.Length; i++) v[i] = (float)(rng.NextDouble() * 2 - 1);
        return v;
    }

    /// <summary>BF16 bits of uniform values in [-1, 1).</summary>
    public static ushort[] BFloat16(Random rng, long count)
    {
        var v = new ushort[count];
        for (var i = 0; i < v.Length; i++) v[i] = BFloat16Codec.FromSingle((float)(rng.NextDouble() * 2 - 1));
        return v;
    }

    public static DeviceBuffer<T> Upload<T>(CudaContext context, T[] values) where T : unmanaged
    {
        var buffer = context.Allocate<T>(values.Length);
        buffer.CopyFrom(values);
        return buffer;
    }

    /// <summary>Row <paramref name="row"/> (<paramref name="cols"/> wide) of a row-major device matrix.</summary>
    public static float[] DownloadRow(DeviceBuffer<float> matrix, long row, int cols)
    {
        var values = new float[cols];
        matrix.CopyTo(values, row * cols);
        return values;
    }

    /// <summary>
    /// Compares <paramref name="actual"/> with <paramref name="expected"/> within <paramref name="relative"/> × the
    /// largest |expected| and describes the result; throws <see cref="CheckFailedException"/> beyond it.
    /// </summary>
    public static string Compare(string what, ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, double relative)
    {
        var scale = 0.0;
        foreach (var e in expected) scale = Math.Max(scale, Math.Abs(e));
        scale = Math.Max(scale, 1e-30);
        double worst = 0;
        var exact = true;
        for (var i = 0; i < expected.Length; i++)
        {
            exact &= expected[i] == actual[i];
            var err = Math.Abs((double)expected[i] - actual[i]);
            if (!(err <= relative * scale))
                throw new CheckFailedException($"{what}: element {i} is {actual[i]}, the reference says {expected[i]} (tolerance {relative:G2} × {scale:G4})");
            worst = Math.Max(worst, err / scale);
        }
        return exact ? $"bit-exact on {expected.Length} values" : $"max rel err {worst:G3} on {expected.Length} values";
    }

    /// <summary>
    /// Compares element-wise within <paramref name="bound"/> (per element, e.g. <see cref="BlockFp8Gemm.ReorderingBound"/>)
    /// and describes the result; throws <see cref="CheckFailedException"/> beyond it (NaN always is).
    /// </summary>
    public static string CompareWithin(string what, ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, ReadOnlySpan<double> bound)
    {
        double worst = 0;
        var exact = true;
        for (var i = 0; i < expected.Length; i++)
        {
            exact &= expected[i] == actual[i];
            var err = Math.Abs((double)expected[i] - actual[i]);
            if (!(err <= bound[i]))
                throw new CheckFailedException($"{what}: element {i} is {actual[i]}, the reference says {expected[i]} (bound {bound[i]:G3})");
            if (bound[i] > 0) worst = Math.Max(worst, err / bound[i]);
        }
        return exact ? $"bit-exact on {expected.Length} values" : $"within {worst:P0} of the reordering bound on {expected.Length} values";
    }
}
