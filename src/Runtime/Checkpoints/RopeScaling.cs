using System.Globalization;
using System.Text.Json;

namespace DeepSeek.Runtime.Checkpoints;

/// <summary>RoPE context-extension schemes (<c>rope_scaling.type</c> or <c>rope_scaling.rope_type</c>).</summary>
public enum RopeScalingType
{
    /// <summary><c>linear</c>: positions divided by <see cref="RopeScaling.Factor"/>.</summary>
    Linear,

    /// <summary><c>dynamic</c>: NTK-aware base rescaling past the original length.</summary>
    Dynamic,

    /// <summary><c>yarn</c>: per-frequency blend of interpolation and extrapolation plus attention temperature (DeepSeek V2/V3).</summary>
    Yarn,

    /// <summary><c>llama3</c>: Llama 3.1 wavelength-banded frequency scaling (R1-Distill-Llama).</summary>
    Llama3,
}

/// <summary>
/// The <c>rope_scaling</c> block of <c>config.json</c>. <c>"type": "default"</c> or a <c>null</c> block means
/// no scaling and is represented by a null <see cref="ModelConfig.RopeScaling"/>, not by an instance.
/// </summary>
public sealed record RopeScaling
{
    /// <summary>The scheme (<c>type</c> / <c>rope_type</c>).</summary>
    public RopeScalingType Type { get; init; }

    /// <summary><c>factor</c>: context extension ratio; must be ≥ 1. Required in JSON.</summary>
    public double Factor { get; init; } = 1.0;

    /// <summary><c>original_max_position_embeddings</c>: the pre-extension context; required for yarn and llama3.</summary>
    public int? OriginalMaxPositionEmbeddings { get; init; }

    /// <summary><c>beta_fast</c> (yarn): rotations at which extrapolation ends. Default 32.</summary>
    public double BetaFast { get; init; } = 32.0;

    /// <summary><c>beta_slow</c> (yarn): rotations at which interpolation starts. Default 1.</summary>
    public double BetaSlow { get; init; } = 1.0;

    /// <summary><c>mscale</c> (yarn): numerator of the cos/sin magnitude scale. Default 1.</summary>
    public double MScale { get; init; } = 1.0;

    /// <summary><c>mscale_all_dim</c> (yarn): denominator of the cos/sin scale and squared into the softmax scale. Default 0 (off).</summary>
    public double MScaleAllDim { get; init; }

    /// <summary><c>low_freq_factor</c> (llama3). Default 1 (Llama 3.1's value); required in JSON for llama3.</summary>
    public double LowFreqFactor { get; init; } = 1.0;

    /// <summary><c>high_freq_factor</c> (llama3). Default 4 (Llama 3.1's value); required in JSON for llama3.</summary>
    public double HighFreqFactor { get; init; } = 4.0;

    /// <summary>YaRN's magnitude correction m(s) = 0.1·s·ln(factor) + 1, or 1 when factor ≤ 1 (HF <c>yarn_get_mscale</c>).</summary>
    public static double YarnMScale(double factor, double mscale) =>
        factor <= 1.0 ? 1.0 : (0.1 * mscale * Math.Log(factor)) + 1.0;

    /// <summary>
    /// The factor cos/sin tables are multiplied by: m(<see cref="MScale"/>)/m(<see cref="MScaleAllDim"/>) for yarn,
    /// 1 otherwise (1.0 for V3, where both are 1).
    /// </summary>
    public double CosSinScale =>
        Type == RopeScalingType.Yarn ? YarnMScale(Factor, MScale) / YarnMScale(Factor, MScaleAllDim) : 1.0;

    /// <summary>Checks ranges and the keys each scheme needs; throws <see cref="ModelConfigException"/> naming <c>rope_scaling.*</c>.</summary>
    public void Validate() => Validate(null);

    internal void Validate(string? file)
    {
        const string P = "rope_scaling.";
        if (!Enum.IsDefined(Type))
            throw new ModelConfigException(P + "type", $"unknown rope scaling type {(int)Type}", file);
        if (!double.IsFinite(Factor) || Factor < 1.0)
            throw new ModelConfigException(P + "factor", Fmt($"must be a finite number >= 1, got {Factor}"), file);
        if (OriginalMaxPositionEmbeddings is { } orig && orig <= 0)
            throw new ModelConfigException(P + "original_max_position_embeddings", Fmt($"must be positive, got {orig}"), file);
        if (Type is RopeScalingType.Yarn or RopeScalingType.Llama3 && OriginalMaxPositionEmbeddings is null)
            throw new ModelConfigException(P + "original_max_position_embeddings", $"is required for {Type.ToConfigName()} rope scaling", file);
        if (!double.IsFinite(BetaFast) || BetaFast <= 0)
            throw new ModelConfigException(P + "beta_fast", Fmt($"must be positive, got {BetaFast}"), file);
        if (!double.IsFinite(BetaSlow) || BetaSlow <= 0)
            throw new ModelConfigException(P + "beta_slow", Fmt($"must be positive, got {BetaSlow}"), file);
        // m(s) must stay positive: it divides the cos/sin scale and is squared into the softmax scale.
        if (!double.IsFinite(MScale) || MScale < 0)
            throw new ModelConfigException(P + "mscale", Fmt($"must be >= 0, got {MScale}"), file);
        if (!double.IsFinite(MScaleAllDim) || MScaleAllDim < 0)
            throw new ModelConfigException(P + "mscale_all_dim", Fmt($"must be >= 0, got {MScaleAllDim}"), file);
        if (!double.IsFinite(LowFreqFactor) || LowFreqFactor <= 0)
            throw new ModelConfigException(P + "low_freq_factor", Fmt($"must be positive, got {LowFreqFactor}"), file);
        if (!double.IsFinite(HighFreqFactor) || HighFreqFactor <= LowFreqFactor)
            throw new ModelConfigException(P + "high_freq_factor",
                Fmt($"must be greater than low_freq_factor {LowFreqFactor}, got {HighFreqFactor}"), file);
    }

    /// <summary>Reads <c>rope_scaling</c>; null for an absent/null block or <c>"default"</c> type.</summary>
    internal static RopeScaling? Read(ConfigJsonObject parent)
    {
        if (parent.OptObject("rope_scaling") is not { } o)
            return null;
        string? ropeType = o.OptString("rope_type", null);
        string? type = o.OptString("type", null);
        if (ropeType is not null && type is not null && ropeType != type)
            throw o.Error("type", $"'{type}' contradicts rope_type '{ropeType}'");
        string typeKey = ropeType is not null ? "rope_type" : "type";
        string name = ropeType ?? type ?? throw o.Error("type", "is required (or rope_type) but missing");
        if (name == "default")
            return null;
        if (!ModelConfigNames.TryParseRopeScalingType(name, out var kind))
            throw o.Error(typeKey, $"unsupported rope scaling type '{name}'; supported: default, linear, dynamic, yarn, llama3");
        bool llama3 = kind == RopeScalingType.Llama3;
        return new RopeScaling
        {
            Type = kind,
            Factor = o.RequireDouble("factor"),
            OriginalMaxPositionEmbeddings = o.OptNullableInt("original_max_position_embeddings"),
            BetaFast = o.OptDouble("beta_fast", 32.0),
            BetaSlow = o.OptDouble("beta_slow", 1.0),
            MScale = o.OptDouble("mscale", 1.0),
            MScaleAllDim = o.OptDouble("mscale_all_dim", 0.0),
            LowFreqFactor = llama3 ? o.RequireDouble("low_freq_factor") : o.OptDouble("low_freq_factor", 1.0),
            HighFreqFactor = llama3 ? o.RequireDouble("high_freq_factor") : o.OptDouble("high_freq_factor", 4.0),
        };
    }

    /// <summary>Writes the block with both <c>type</c> (read by DeepSeek's modeling code) and <c>rope_type</c> (read by transformers).</summary>
    internal void Write(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WriteString("type", Type.ToConfigName());
        w.WriteString("rope_type", Type.ToConfigName());
        w.WriteNumber("factor", Factor);
        if (OriginalMaxPositionEmbeddings is { } orig)
            w.WriteNumber("original_max_position_embeddings", orig);
        bool yarn = Type == RopeScalingType.Yarn;
        if (yarn || BetaFast != 32.0)
            w.WriteNumber("beta_fast", BetaFast);
        if (yarn || BetaSlow != 1.0)
            w.WriteNumber("beta_slow", BetaSlow);
        if (yarn || MScale != 1.0)
            w.WriteNumber("mscale", MScale);
        if (yarn || MScaleAllDim != 0.0)
            w.WriteNumber("mscale_all_dim", MScaleAllDim);
        bool llama3 = Type == RopeScalingType.Llama3;
        if (llama3 || LowFreqFactor != 1.0)
            w.WriteNumber("low_freq_factor", LowFreqFactor);
        if (llama3 || HighFreqFactor != 4.0)
            w.WriteNumber("high_freq_factor", HighFreqFactor);
        w.WriteEndObject();
    }

    private static string Fmt(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
