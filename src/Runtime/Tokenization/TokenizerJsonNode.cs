using System.Text.Json;

namespace DeepSeek.Runtime.Tokenization;

/// <summary>A JSON value with the path it was reached by; every failed read is a <see cref="TokenizerFormatException"/> naming it.</summary>
internal readonly struct TokenizerJsonNode(JsonElement element, string path, string? file)
{
    public JsonElement Element => element;
    public string Path => path;
    public string? File => file;

    public TokenizerFormatException Error(string message) => new(message, path, file);

    public string Child(string key) => path.Length == 0 ? key : path + "." + key;

    public bool IsNull => element.ValueKind is JsonValueKind.Null or JsonValueKind.Undefined;

    /// <summary>The member <paramref name="key"/> when present and not null.</summary>
    public bool TryGet(string key, out TokenizerJsonNode node)
    {
        if (element.ValueKind != JsonValueKind.Object) throw Error($"expected an object, found {element.ValueKind}");
        if (element.TryGetProperty(key, out var value) && value.ValueKind != JsonValueKind.Null)
        {
            node = new TokenizerJsonNode(value, Child(key), file);
            return true;
        }
        node = default;
        return false;
    }

    public TokenizerJsonNode Require(string key) =>
        TryGet(key, out var node) ? node : throw new TokenizerFormatException($"missing required key '{key}'", Child(key), file);

    public string String() =>
        element.ValueKind == JsonValueKind.String ? element.GetString()! : throw Error($"expected a string, found {element.ValueKind}");

    public int Int() =>
        element.ValueKind == JsonValueKind.Number && element.TryGetInt32(out var v) && v >= 0 ? v : throw Error($"expected a non-negative 32-bit integer, found {element}");

    /// <summary>A token id: a non-negative integer below 2^24 (a bound that keeps id tables allocatable).</summary>
    public int Id()
    {
        var v = Int();
        return v < 1 << 24 ? v : throw Error($"token id {v} is implausibly large (limit 2^24)");
    }

    public bool Bool() => element.ValueKind switch
    {
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        _ => throw Error($"expected true or false, found {element.ValueKind}"),
    };

    public string RequireString(string key) => Require(key).String();

    public bool OptBool(string key, bool fallback) => TryGet(key, out var n) ? n.Bool() : fallback;

    public string? OptString(string key) => TryGet(key, out var n) ? n.String() : null;

    public IEnumerable<TokenizerJsonNode> Items()
    {
        if (element.ValueKind != JsonValueKind.Array) throw Error($"expected an array, found {element.ValueKind}");
        var i = 0;
        foreach (var item in element.EnumerateArray()) yield return new TokenizerJsonNode(item, $"{path}[{i++}]", file);
    }

    public IEnumerable<(string Key, TokenizerJsonNode Value)> Members()
    {
        if (element.ValueKind != JsonValueKind.Object) throw Error($"expected an object, found {element.ValueKind}");
        foreach (var p in element.EnumerateObject()) yield return (p.Name, new TokenizerJsonNode(p.Value, Child(p.Name), file));
    }

    /// <summary>The <c>type</c> discriminator of a component object.</summary>
    public string Type() => Require("type").String();
}
