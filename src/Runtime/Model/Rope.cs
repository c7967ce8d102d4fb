using DeepSeek.Runtime.Checkpoints;

namespace DeepSeek.Runtime.Model;

/// <summary>Which dimensions RoPE rotates together.</summary>
public enum RopeLayout
{
    /// <summary>Pairs (x[2i], x[2i+1]) rotate by frequency i: DeepSeek's model.py (complex multiply on adjacent pairs).</summary>
    Interleaved,
    /// <summary>Pairs (x[i], x[i + d/2]) rotate by frequency i: HF Llama/Qwen2 <c>rotate_half</c>.</summary>
    Half,
}

/// <summary>
/// Precomputed cos/sin of RoPE for positions [0, MaxPositions) over <c>Dim/2</c> frequencies, with the context
/// extension of <c>rope_scaling</c> applied: YaRN (DeepSeek), llama3 (R1-Distill-Llama) or linear.
/// </summary>
public sealed class RopeTable
{
    private readonly float[] _cos;
    private readonly float[] _sin;

    private RopeTable(int dim, int maxPositions, RopeLayout layout, float[] cos, float[] sin)
    {
        Dim = dim;
        MaxPositions = maxPositions;
        Layout = layout;
        _cos = cos;
        _sin = sin;
    }

    /// <summary>Rotated dimensions per head (even).</summary>
    public int Dim { get; }

    /// <summary>Positions covered.</summary>
    public int MaxPositions { get; }

    /// <summary>Pairing of rotated dimensions.</summary>
    public RopeLayout Layout { get; }

    /// <summary>cos for <paramref name="position"/>, one per frequency (length Dim/2).</summary>
    public ReadOnlySpan<float> Cos(int position) => _cos.AsSpan(position * (Dim / 2), Dim / 2);

    /// <summary>sin for <paramref name="position"/>, one per frequency (length Dim/2).</summary>
    public ReadOnlySpan<float> Sin(int position) => _sin.AsSpan(position * (Dim / 2), Dim / 2);

    /// <summary>The table for <paramref name="config"/>: MLA rotates <c>qk_rope_head_dim</c> interleaved, dense models the whole head half-split.</summary>
    public static RopeTable For(ModelConfig config, int maxPositions)
    {
        ArgumentNullException.ThrowIfNull(config);
        var dim = config.IsMla ? config.QkRopeHeadDim : config.HeadDim;
        var layout = config.IsMla ? RopeLayout.Interleaved : RopeLayout.Half;
        return Create(dim, config.RopeTheta, config.RopeScaling, maxPositions, layout);
    }

    /// <summary>Builds a table. Frequencies are computed in double and rounded once, as the references do in fp32.</summary>
    public static RopeTable Create(int dim, double theta, RopeScaling? scaling, int maxPositions, RopeLayout layout)
    {
        if (dim <= 0 || dim % 2 != 0) throw new ArgumentOutOfRangeException(nameof(dim), $"RoPE dimension {dim} must be positive and even");
        ArgumentOutOfRangeException.ThrowIfNegative(maxPositions);
        var half = dim / 2;
        var invFreq = new double[half];
        for (var i = 0; i < half; i++) invFreq[i] = 1.0 / Math.Pow(theta, 2.0 * i / dim);

        var magnitude = 1.0;
        switch (scaling)
        {
            case null:
                break;
            case { Type: RopeScalingType.Yarn }:
                Yarn(invFreq, dim, theta, scaling);
                magnitude = scaling.CosSinScale;
                break;
            case { Type: RopeScalingType.Llama3 }:
                Llama3(invFreq, scaling);
                break;
            case { Type: RopeScalingType.Linear }:
                for (var i = 0; i < half; i++) invFreq[i] /= scaling.Factor;
                break;
            default:
                throw new NotSupportedException($"rope_scaling type '{scaling.Type.ToConfigName()}' is not supported yet; supported: yarn, llama3, linear");
        }

        var cos = new float[maxPositions * half];
        var sin = new float[maxPositions * half];
        for (var p = 0; p < maxPositions; p++)
        {
            for (var i = 0; i < half; i++)
            {
                // fp32 angle as the references compute it (outer product of fp32 positions and fp32 inv_freq).
                var angle = (double)((float)p * (float)invFreq[i]);
                cos[p * half + i] = (float)(Math.Cos(angle) * magnitude);
                sin[p * half + i] = (float)(Math.Sin(angle) * magnitude);
            }
        }
        return new RopeTable(dim, maxPositions, layout, cos, sin);
    }

    /// <summary>
    /// YaRN (MODEL.md): blend extrapolated (inv_freq) and interpolated (inv_freq/factor) frequencies by a linear ramp
    /// between the dimensions that rotate beta_fast and beta_slow times over the original context.
    /// </summary>
    private static void Yarn(double[] invFreq, int dim, double theta, RopeScaling s)
    {
        var orig = s.OriginalMaxPositionEmbeddings ?? throw new ArgumentException("yarn needs original_max_position_embeddings");
        double CorrDim(double rotations) => dim * Math.Log(orig / (rotations * 2 * Math.PI)) / (2 * Math.Log(theta));
        var low = Math.Max(Math.Floor(CorrDim(s.BetaFast)), 0);
        var high = Math.Min(Math.Ceiling(CorrDim(s.BetaSlow)), dim - 1);
        if (high == low) high += 0.001;
        for (var i = 0; i < invFreq.Length; i++)
        {
            var ramp = Math.Clamp((i - low) / (high - low), 0, 1);
            var extrapolationWeight = 1 - ramp;
            var extrapolated = invFreq[i];
            var interpolated = invFreq[i] / s.Factor;
            invFreq[i] = interpolated * (1 - extrapolationWeight) + extrapolated * extrapolationWeight;
        }
    }

    /// <summary>Llama 3.1: keep short wavelengths, divide long ones by factor, blend smoothly in between.</summary>
    private static void Llama3(double[] invFreq, RopeScaling s)
    {
        var orig = s.OriginalMaxPositionEmbeddings ?? throw new ArgumentException("llama3 rope scaling needs original_max_position_embeddings");
        var lowWavelen = orig / s.LowFreqFactor;
        var highWavelen = orig / s.HighFreqFactor;
        for (var i = 0; i < invFreq.Length; i++)
        {
            var wavelen = 2 * Math.PI / invFreq[i];
            if (wavelen < highWavelen) continue;
            if (wavelen > lowWavelen) { invFreq[i] /= s.Factor; continue; }
            var smooth = (orig / wavelen - s.LowFreqFactor) / (s.HighFreqFactor - s.LowFreqFactor);
            invFreq[i] = (1 - smooth) * invFreq[i] / s.Factor + smooth * invFreq[i];
        }
    }
}
