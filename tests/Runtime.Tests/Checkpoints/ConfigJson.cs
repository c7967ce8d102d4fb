using System.Text.Json.Nodes;

namespace DeepSeek.Runtime.Tests.Checkpoints;

/// <summary>Edits a fixture's JSON: <c>Set(json, "rope_scaling.factor", 0.5)</c>, <c>Remove(json, "vocab_size")</c>.</summary>
internal static class ConfigJson
{
    public static string Edit(string json, Action<JsonObject> edit)
    {
        var root = JsonNode.Parse(json)!.AsObject();
        edit(root);
        return root.ToJsonString();
    }

    public static string Set(string json, string path, JsonNode? value) => Edit(json, root =>
    {
        var (parent, key) = Locate(root, path);
        parent[key] = value;
    });

    public static string Remove(string json, string path) => Edit(json, root =>
    {
        var (parent, key) = Locate(root, path);
        Assert.True(parent.Remove(key), $"fixture has no key '{path}'");
    });

    private static (JsonObject Parent, string Key) Locate(JsonObject root, string path)
    {
        string[] parts = path.Split('.');
        JsonObject parent = root;
        foreach (string part in parts[..^1])
            parent = parent[part]!.AsObject();
        return (parent, parts[^1]);
    }
}
