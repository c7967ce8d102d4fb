namespace DeepSeek.Runtime.Checkpoints;

/// <summary>The model families the runtime can load, keyed by <c>config.json</c>'s <c>model_type</c>.</summary>
public enum ModelArchitecture
{
    /// <summary><c>deepseek_v2</c>: MLA attention, softmax-gated MoE (DeepSeek-V2, V2-Lite).</summary>
    DeepSeekV2,

    /// <summary><c>deepseek_v3</c>: MLA attention, sigmoid-gated MoE with <c>noaux_tc</c> routing, MTP (DeepSeek-V3, R1).</summary>
    DeepSeekV3,

    /// <summary><c>qwen2</c>: dense GQA transformer with q/k/v biases (R1-Distill-Qwen).</summary>
    Qwen2,

    /// <summary><c>llama</c>: dense GQA transformer (R1-Distill-Llama).</summary>
    Llama,
}

/// <summary>How the MoE gate chooses experts (<c>topk_method</c>).</summary>
public enum TopKMethod
{
    /// <summary><c>greedy</c>: plain top-k over all routed experts (V2-Lite).</summary>
    Greedy,

    /// <summary><c>group_limited_greedy</c>: keep the <c>topk_group</c> groups with the best max score, then top-k (V2).</summary>
    GroupLimitedGreedy,

    /// <summary><c>noaux_tc</c>: bias-corrected choice, groups ranked by their top-2 biased scores, unbiased weights (V3).</summary>
    NoAuxTc,
}

/// <summary>How gate logits become expert scores (<c>scoring_func</c>).</summary>
public enum ScoringFunction
{
    /// <summary><c>softmax</c> over all routed experts (V2).</summary>
    Softmax,

    /// <summary><c>sigmoid</c> per expert (V3).</summary>
    Sigmoid,
}

/// <summary>Names used in <c>config.json</c> for the enums above.</summary>
public static class ModelConfigNames
{
    /// <summary>The <c>model_type</c> values accepted, in <see cref="ModelArchitecture"/> order.</summary>
    public static IReadOnlyList<string> SupportedModelTypes { get; } = ["deepseek_v2", "deepseek_v3", "qwen2", "llama"];

    /// <summary>The <c>model_type</c> string for <paramref name="architecture"/>.</summary>
    public static string ToModelType(this ModelArchitecture architecture) => architecture switch
    {
        ModelArchitecture.DeepSeekV2 => "deepseek_v2",
        ModelArchitecture.DeepSeekV3 => "deepseek_v3",
        ModelArchitecture.Qwen2 => "qwen2",
        ModelArchitecture.Llama => "llama",
        _ => throw new ArgumentOutOfRangeException(nameof(architecture), architecture, "unknown architecture"),
    };

    /// <summary>The <c>topk_method</c> string for <paramref name="method"/>.</summary>
    public static string ToConfigName(this TopKMethod method) => method switch
    {
        TopKMethod.Greedy => "greedy",
        TopKMethod.GroupLimitedGreedy => "group_limited_greedy",
        TopKMethod.NoAuxTc => "noaux_tc",
        _ => throw new ArgumentOutOfRangeException(nameof(method), method, "unknown top-k method"),
    };

    /// <summary>The <c>scoring_func</c> string for <paramref name="function"/>.</summary>
    public static string ToConfigName(this ScoringFunction function) => function switch
    {
        ScoringFunction.Softmax => "softmax",
        ScoringFunction.Sigmoid => "sigmoid",
        _ => throw new ArgumentOutOfRangeException(nameof(function), function, "unknown scoring function"),
    };

    /// <summary>The <c>rope_scaling.type</c> string for <paramref name="type"/>.</summary>
    public static string ToConfigName(this RopeScalingType type) => type switch
    {
        RopeScalingType.Linear => "linear",
        RopeScalingType.Dynamic => "dynamic",
        RopeScalingType.Yarn => "yarn",
        RopeScalingType.Llama3 => "llama3",
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "unknown rope scaling type"),
    };

    internal static bool TryParseModelType(string value, out ModelArchitecture architecture)
    {
        (bool ok, architecture) = value switch
        {
            "deepseek_v2" => (true, ModelArchitecture.DeepSeekV2),
            "deepseek_v3" => (true, ModelArchitecture.DeepSeekV3),
            "qwen2" => (true, ModelArchitecture.Qwen2),
            "llama" => (true, ModelArchitecture.Llama),
            _ => (false, default),
        };
        return ok;
    }

    internal static bool TryParseTopKMethod(string value, out TopKMethod method)
    {
        // "gready" is the misspelt default of HF's DeepseekV2Config; configs written from it carry it.
        (bool ok, method) = value switch
        {
            "greedy" or "gready" => (true, TopKMethod.Greedy),
            "group_limited_greedy" => (true, TopKMethod.GroupLimitedGreedy),
            "noaux_tc" => (true, TopKMethod.NoAuxTc),
            _ => (false, default),
        };
        return ok;
    }

    internal static bool TryParseScoringFunction(string value, out ScoringFunction function)
    {
        (bool ok, function) = value switch
        {
            "softmax" => (true, ScoringFunction.Softmax),
            "sigmoid" => (true, ScoringFunction.Sigmoid),
            _ => (false, default),
        };
        return ok;
    }

    internal static bool TryParseRopeScalingType(string value, out RopeScalingType type)
    {
        (bool ok, type) = value switch
        {
            "linear" => (true, RopeScalingType.Linear),
            "dynamic" => (true, RopeScalingType.Dynamic),
            "yarn" => (true, RopeScalingType.Yarn),
            "llama3" => (true, RopeScalingType.Llama3),
            _ => (false, default),
        };
        return ok;
    }
}
