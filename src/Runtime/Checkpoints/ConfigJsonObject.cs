using System.Globalization;
using System.Text.Json;

namespace DeepSeek.Runtime.Checkpoints;

/// <summary>
/// Typed, key-path-aware reads from one JSON object of a <c>config.json</c>. Every failure is a
/// <see cref="ModelConfigException"/> naming the full key path (<c>rope_scaling.factor</c>).
/// A key that is present with the value <c>null</c> counts as absent, as in HF's config classes.
/// </summary>
internal readonly struct ConfigJsonObject
{
    private readonly JsonElement _element;
    private readonly string _prefix;

    public ConfigJsonObject(JsonElement element, string prefix, string? file)
    {
        _element = element;
        _prefix = prefix;
        File = file;
    }

    public string? File { get; }

    public string PathOf(string key) => _prefix.Length == 0 ? key : _prefix + "." + key;

    public ModelConfigException Error(string key, string message) => new(PathOf(key), message, File);

    /// <summary>The value of <paramref name="key"/> when present and not <c>null</c>.</summary>
    public bool TryGet(string key, out JsonElement value)
    {
        if (_element.TryGetProperty(key, out value) && value.ValueKind != JsonValueKind.Null)
            return true;
        value = default;
        return false;
    }

    public bool Has(string key) => TryGet(key, out _);

    /// <summary>True when the key is written with an explicit JSON <c>null</c>.</summary>
    public bool IsExplicitNull(string key) =>
        _element.TryGetProperty(key, out var value) && value.ValueKind == JsonValueKind.Null;

    public string RequireString(string key) =>
        TryGet(key, out var v) ? AsString(key, v) : throw Missing(key, "a string");

    public string? OptString(string key, string? fallback) =>
        TryGet(key, out var v) ? AsString(key, v) : fallback;

    public int RequireInt(string key) =>
        TryGet(key, out var v) ? AsInt(key, v) : throw Missing(key, "an integer");

    public int OptInt(string key, int fallback) => TryGet(key, out var v) ? AsInt(key, v) : fallback;

    public int? OptNullableInt(string key) => TryGet(key, out var v) ? AsInt(key, v) : null;

    public double RequireDouble(string key) =>
        TryGet(key, out var v) ? AsDouble(key, v) : throw Missing(key, "a number");

    public double OptDouble(string key, double fallback) => TryGet(key, out var v) ? AsDouble(key, v) : fallback;

    public bool OptBool(string key, bool fallback)
    {
        if (!TryGet(key, out var v))
            return fallback;
        return v.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw Error(key, $"must be true or false, got {Describe(v)}"),
        };
    }

    /// <summary>The nested object at <paramref name="key"/>, or null when absent / <c>null</c>.</summary>
    public ConfigJsonObject? OptObject(string key)
    {
        if (!TryGet(key, out var v))
            return null;
        if (v.ValueKind != JsonValueKind.Object)
            throw Error(key, $"must be an object, got {Describe(v)}");
        return new ConfigJsonObject(v, PathOf(key), File);
    }

    public string AsString(string key, JsonElement v) =>
        v.ValueKind == JsonValueKind.String ? v.GetString()! : throw Error(key, $"must be a string, got {Describe(v)}");

    /// <summary>
    /// An int32 from a JSON number. Integral doubles (<c>2.0</c>, <c>1e3</c>) are accepted because Python
    /// writes them for ints that went through float math; fractions, non-numbers and out-of-range values are not.
    /// </summary>
    public int AsInt(string key, JsonElement v)
    {
        if (v.ValueKind != JsonValueKind.Number)
            throw Error(key, $"must be an integer, got {Describe(v)}");
        if (v.TryGetInt32(out int i))
            return i;
        if (!v.TryGetDouble(out double d) || !double.IsFinite(d))
            throw Error(key, $"integer {v.GetRawText()} is out of range");
        if (Math.Floor(d) != d)
            throw Error(key, $"must be an integer, got the fraction {v.GetRawText()}");
        if (d < int.MinValue || d > int.MaxValue)
            throw Error(key, $"integer {v.GetRawText()} is out of range [{int.MinValue}, {int.MaxValue}]");
        return (int)d;
    }

    public double AsDouble(string key, JsonElement v)
    {
        if (v.ValueKind != JsonValueKind.Number)
            throw Error(key, $"must be a number, got {Describe(v)}");
        if (!v.TryGetDouble(out double d) || !double.IsFinite(d))
            throw Error(key, $"number {v.GetRawText()} is not a finite double");
        return d;
    }

    private ModelConfigException Missing(string key, string what) =>
        Error(key, _element.TryGetProperty(key, out _) ? $"is null; it must be {what}" : $"is required ({what}) but missing");

    internal static string Describe(JsonElement v) => v.ValueKind switch
    {
        JsonValueKind.String => string.Create(CultureInfo.InvariantCulture, $"the string \"{Truncate(v.GetString()!)}\""),
        JsonValueKind.Number => "the number " + Truncate(v.GetRawText()),
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Array => "an array",
        JsonValueKind.Object => "an object",
        JsonValueKind.Null => "null",
        _ => v.ValueKind.ToString(),
    };

    private static string Truncate(string s) => s.Length <= 40 ? s : s[..40] + "…";
}
