using System.Globalization;
using System.Text.Json;

namespace DeepSeek.Runtime.Checkpoints;

/// <summary>
/// The <c>quantization_config</c> block: DeepSeek-V3's block-scaled FP8. Only <c>fp8</c> / <c>e4m3</c> with
/// <c>dynamic</c> activations is supported: each FP8 weight has a <c>_scale_inv</c> per
/// <see cref="BlockRows"/>×<see cref="BlockCols"/> block.
/// </summary>
public sealed record QuantizationConfig
{
    /// <summary>The only supported <c>quant_method</c>.</summary>
    public const string Fp8 = "fp8";

    /// <summary>The only supported <c>fmt</c>.</summary>
    public const string E4M3 = "e4m3";

    /// <summary>The only supported <c>activation_scheme</c>.</summary>
    public const string Dynamic = "dynamic";

    /// <summary>DeepSeek-V3's published setting: fp8, e4m3, 128×128 blocks, dynamic activations.</summary>
    public static QuantizationConfig DeepSeekFp8 { get; } = new();

    /// <summary><c>quant_method</c>; required in JSON and must be <c>fp8</c>.</summary>
    public string QuantMethod { get; init; } = Fp8;

    /// <summary><c>fmt</c>; default and only supported value <c>e4m3</c>.</summary>
    public string Format { get; init; } = E4M3;

    /// <summary><c>weight_block_size[0]</c>: block extent along a weight's output rows. Default 128.</summary>
    public int BlockRows { get; init; } = 128;

    /// <summary><c>weight_block_size[1]</c>: block extent along a weight's input columns. Default 128.</summary>
    public int BlockCols { get; init; } = 128;

    /// <summary><c>activation_scheme</c>; default and only supported value <c>dynamic</c>.</summary>
    public string ActivationScheme { get; init; } = Dynamic;

    /// <summary>Checks the supported combination; throws <see cref="ModelConfigException"/> naming <c>quantization_config.*</c>.</summary>
    public void Validate() => Validate(null);

    internal void Validate(string? file)
    {
        const string P = "quantization_config.";
        if (QuantMethod != Fp8)
            throw new ModelConfigException(P + "quant_method",
                $"unsupported quant_method '{QuantMethod}'; only '{Fp8}' (block-scaled E4M3, as DeepSeek-V3 ships) is supported", file);
        if (Format != E4M3)
            throw new ModelConfigException(P + "fmt", $"unsupported fp8 format '{Format}'; only '{E4M3}' is supported", file);
        if (BlockRows <= 0 || BlockCols <= 0)
            throw new ModelConfigException(P + "weight_block_size",
                string.Create(CultureInfo.InvariantCulture, $"must be two positive integers, got [{BlockRows}, {BlockCols}]"), file);
        if (ActivationScheme != Dynamic)
            throw new ModelConfigException(P + "activation_scheme",
                $"unsupported activation_scheme '{ActivationScheme}'; only '{Dynamic}' (scales computed per activation tile) is supported", file);
    }

    internal static QuantizationConfig? Read(ConfigJsonObject parent)
    {
        if (parent.OptObject("quantization_config") is not { } o)
            return null;
        int rows = 128, cols = 128;
        if (o.IsExplicitNull("weight_block_size"))
            throw o.Error("weight_block_size", "is null (per-tensor FP8); only block-scaled FP8 is supported");
        if (o.TryGet("weight_block_size", out var block))
        {
            if (block.ValueKind != JsonValueKind.Array || block.GetArrayLength() != 2)
                throw o.Error("weight_block_size", $"must be two positive integers [rows, cols], got {ConfigJsonObject.Describe(block)}"
                    + (block.ValueKind == JsonValueKind.Array ? $" of length {block.GetArrayLength()}" : ""));
            rows = o.AsInt("weight_block_size", block[0]);
            cols = o.AsInt("weight_block_size", block[1]);
        }
        return new QuantizationConfig
        {
            QuantMethod = o.RequireString("quant_method"),
            Format = o.OptString("fmt", E4M3)!,
            BlockRows = rows,
            BlockCols = cols,
            ActivationScheme = o.OptString("activation_scheme", Dynamic)!,
        };
    }

    internal void Write(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WriteString("quant_method", QuantMethod);
        w.WriteString("fmt", Format);
        w.WriteStartArray("weight_block_size");
        w.WriteNumberValue(BlockRows);
        w.WriteNumberValue(BlockCols);
        w.WriteEndArray();
        w.WriteString("activation_scheme", ActivationScheme);
        w.WriteEndObject();
    }
}
