using System.Text.Json;

namespace DeepSeek.Runtime.Checkpoints;

/// <summary>
/// A Hugging Face <c>model.safetensors.index.json</c>: which shard file holds each tensor, plus the declared total size.
/// </summary>
public sealed class SafeTensorsIndex
{
    /// <summary>Conventional file name of the index.</summary>
    public const string FileName = "model.safetensors.index.json";

    private SafeTensorsIndex(string path, IReadOnlyDictionary<string, string> weightMap, long? totalSize)
    {
        Path = path;
        WeightMap = weightMap;
        TotalSize = totalSize;
    }

    /// <summary>Full path of the index file.</summary>
    public string Path { get; }

    /// <summary>Tensor name → shard file name (relative to the index's folder).</summary>
    public IReadOnlyDictionary<string, string> WeightMap { get; }

    /// <summary>The <c>metadata.total_size</c> value (sum of tensor bytes), when present.</summary>
    public long? TotalSize { get; }

    /// <summary>Shard file names, sorted (HF's <c>-0000k-of-0000n</c> names sort in shard order).</summary>
    public IReadOnlyList<string> Files => WeightMap.Values.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();

    /// <summary>Reads and validates an index file. Shard names must be plain file names in the same folder.</summary>
    /// <exception cref="CheckpointFormatException">Missing, unreadable or malformed index.</exception>
    public static SafeTensorsIndex Load(string path)
    {
        var full = System.IO.Path.GetFullPath(path);
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(full);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CheckpointFormatException($"cannot read index: {e.Message}", full, inner: e);
        }

        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(bytes);
        }
        catch (JsonException e)
        {
            throw new CheckpointFormatException($"index is not valid JSON: {e.Message}", full, inner: e);
        }

        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw new CheckpointFormatException($"index JSON is a {root.ValueKind}, expected an object", full);
            if (!root.TryGetProperty("weight_map", out var map) || map.ValueKind != JsonValueKind.Object)
                throw new CheckpointFormatException("index has no 'weight_map' object", full);

            long? total = null;
            if (root.TryGetProperty("metadata", out var meta) && meta.ValueKind == JsonValueKind.Object &&
                meta.TryGetProperty("total_size", out var ts))
            {
                // HF writes total_size as an integer; some tools write a float. Both are accepted when integral.
                if (ts.ValueKind == JsonValueKind.Number && ts.TryGetInt64(out var t) && t >= 0) total = t;
                else if (ts.ValueKind == JsonValueKind.Number && ts.TryGetDouble(out var d) && d >= 0 && d == Math.Floor(d) && d < 9e18) total = (long)d;
                else throw new CheckpointFormatException($"index metadata.total_size is '{ts}', expected a non-negative integer", full);
            }

            var weightMap = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var entry in map.EnumerateObject())
            {
                if (entry.Value.ValueKind != JsonValueKind.String)
                    throw new CheckpointFormatException($"weight_map value is a {entry.Value.ValueKind}, expected a file name", full, entry.Name);
                var file = entry.Value.GetString()!;
                if (file.Length == 0 || file != System.IO.Path.GetFileName(file) || file is "." or "..")
                    throw new CheckpointFormatException($"weight_map names shard '{file}', which is not a plain file name in the checkpoint folder", full, entry.Name);
                if (!weightMap.TryAdd(entry.Name, file))
                    throw new CheckpointFormatException("tensor appears twice in weight_map", full, entry.Name);
            }
            return new SafeTensorsIndex(full, weightMap, total);
        }
    }
}
