using System.Text.Json;

namespace DeepSeek.Server.Protocol;

/// <summary>
/// Typed reads of optional request fields. A field that is absent or JSON <c>null</c> counts as not given; one of
/// the wrong type or out of range is a 400 that names it (the <c>path</c> argument is the name in the error's
/// <c>param</c>).
/// </summary>
internal static class JsonFields
{
    public static bool TryGet(JsonElement obj, string name, out JsonElement value)
    {
        if (obj.ValueKind == JsonValueKind.Object && obj.TryGetProperty(name, out value) && value.ValueKind != JsonValueKind.Null)
            return true;
        value = default;
        return false;
    }

    public static string? String(JsonElement obj, string name, string path)
    {
        if (!TryGet(obj, name, out var value)) return null;
        if (value.ValueKind != JsonValueKind.String) throw WrongType(path, "a string", value);
        return value.GetString();
    }

    public static string RequiredString(JsonElement obj, string name, string path) =>
        String(obj, name, path) ?? throw OpenAIRequestException.Invalid($"Missing required parameter: '{path}'.", path);

    public static bool? Bool(JsonElement obj, string name, string path)
    {
        if (!TryGet(obj, name, out var value)) return null;
        return value.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw WrongType(path, "a boolean", value),
        };
    }

    /// <summary>A number in [<paramref name="min"/>, <paramref name="max"/>] (min excluded when <paramref name="minExclusive"/>).</summary>
    public static double? Number(JsonElement obj, string name, double min, double max, bool minExclusive = false)
    {
        if (!TryGet(obj, name, out var value)) return null;
        if (value.ValueKind != JsonValueKind.Number || !value.TryGetDouble(out var x)) throw WrongType(name, "a number", value);
        if (x > max || (minExclusive ? x <= min : x < min))
        {
            var range = minExclusive ? $"greater than {min} and at most {max}" : $"between {min} and {max}";
            throw OpenAIRequestException.Invalid($"'{name}' must be {range} (got {value.GetRawText()}).", name, "invalid_value");
        }
        return x;
    }

    /// <summary>An integer of at least <paramref name="min"/>.</summary>
    public static long? Integer(JsonElement obj, string name, long min)
    {
        if (!TryGet(obj, name, out var value)) return null;
        if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt64(out var x)) throw WrongType(name, "an integer", value);
        if (x < min)
            throw OpenAIRequestException.Invalid($"'{name}' must be at least {min} (got {x}).", name, "invalid_value");
        return x;
    }

    public static OpenAIRequestException WrongType(string path, string expected, JsonElement value) =>
        OpenAIRequestException.Invalid($"'{path}' must be {expected}, not {Describe(value.ValueKind)}.", path, "invalid_type");

    private static string Describe(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        _ => "null",
    };
}
