using System.Text.Json;
using DeepSeek.Runtime.Tensors;

namespace DeepSeek.Runtime.Checkpoints;

/// <summary>
/// Parses and validates a safetensors header: <c>u64 LE length</c>, then that many bytes of UTF-8 JSON mapping each
/// tensor name to <c>{dtype, shape, data_offsets}</c>, plus an optional <c>__metadata__</c> string map. Validation
/// follows the format spec: offsets must index the data section entirely, in order, without holes or overlaps.
/// </summary>
internal static class SafeTensorsHeader
{
    /// <summary>Largest header accepted (the reference implementation's limit): a bigger one is damage, not a model.</summary>
    public const long MaxHeaderBytes = 100L * 1024 * 1024;

    /// <summary>Key that holds free-form string metadata instead of a tensor.</summary>
    public const string MetadataKey = "__metadata__";

    /// <summary>Checks the 8-byte length prefix against the file length; returns the header length.</summary>
    public static long ReadLength(ReadOnlySpan<byte> prefix, long fileLength, string file)
    {
        if (fileLength < 8)
            throw new CheckpointFormatException($"file is {fileLength} bytes, too short for the 8-byte header length", file, offset: 0);
        var n = BitConverter.ToUInt64(prefix[..8]);
        if (!BitConverter.IsLittleEndian) n = System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(n);
        if (n > MaxHeaderBytes)
            throw new CheckpointFormatException($"header length {n} exceeds the {MaxHeaderBytes}-byte limit (damaged or not a safetensors file)", file, offset: 0);
        if ((long)n > fileLength - 8)
            throw new CheckpointFormatException($"header length {n} runs past the end of the {fileLength}-byte file", file, offset: 0);
        if (n < 2)
            throw new CheckpointFormatException($"header length {n} is too short for a JSON object", file, offset: 0);
        return (long)n;
    }

    /// <summary>Parses the JSON header and validates every entry against a data section of <paramref name="dataLength"/> bytes.</summary>
    public static (List<SafeTensorInfo> Tensors, Dictionary<string, string> Metadata) Parse(ReadOnlySpan<byte> json, long dataLength, string file)
    {
        const long headerStart = 8;
        var dataStart = headerStart + json.Length;
        if (json[0] != (byte)'{')
            throw new CheckpointFormatException("header does not start with '{'", file, offset: headerStart);
        if (FirstInvalidUtf8(json) is { } bad)
            throw new CheckpointFormatException("header is not valid UTF-8", file, offset: headerStart + bad);

        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json.ToArray(), new JsonDocumentOptions { MaxDepth = 16 });
        }
        catch (JsonException e)
        {
            var at = e.BytePositionInLine is { } b ? headerStart + b : (long?)null;
            throw new CheckpointFormatException($"header is not valid JSON: {e.Message}", file, offset: at, inner: e);
        }

        using (doc)
        {
            try
            {
                return ReadTensors(doc.RootElement, dataLength, dataStart, file);
            }
            catch (InvalidOperationException e)
            {
                // System.Text.Json reports strings it cannot transcode (e.g. an escaped lone surrogate) this way.
                throw new CheckpointFormatException($"header holds a string that is not valid text: {e.Message}", file, offset: headerStart, inner: e);
            }
        }
    }

    private static (List<SafeTensorInfo>, Dictionary<string, string>) ReadTensors(JsonElement root, long dataLength, long dataStart, string file)
    {
        const long headerStart = 8;
        if (root.ValueKind != JsonValueKind.Object)
            throw new CheckpointFormatException($"header JSON is a {root.ValueKind}, expected an object", file, offset: headerStart);

        var tensors = new List<SafeTensorInfo>();
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var prop in root.EnumerateObject())
        {
            if (!seen.Add(prop.Name))
                throw new CheckpointFormatException("tensor name appears twice in the header", file, prop.Name, headerStart);
            if (prop.Name == MetadataKey)
            {
                ReadMetadata(prop.Value, metadata, file);
                continue;
            }
            tensors.Add(ReadEntry(prop.Name, prop.Value, dataStart, file));
        }

        CheckCoverage(tensors, dataLength, dataStart, file);
        return (tensors, metadata);
    }

    private static int? FirstInvalidUtf8(ReadOnlySpan<byte> bytes)
    {
        for (var i = 0; i < bytes.Length;)
        {
            if (System.Text.Rune.DecodeFromUtf8(bytes[i..], out _, out var consumed) != System.Buffers.OperationStatus.Done) return i;
            i += consumed;
        }
        return null;
    }

    private static void ReadMetadata(JsonElement value, Dictionary<string, string> metadata, string file)
    {
        if (value.ValueKind != JsonValueKind.Object)
            throw new CheckpointFormatException($"'{MetadataKey}' is a {value.ValueKind}, expected an object of strings", file, MetadataKey);
        foreach (var m in value.EnumerateObject())
        {
            if (m.Value.ValueKind != JsonValueKind.String)
                throw new CheckpointFormatException($"metadata value '{m.Name}' is a {m.Value.ValueKind}, expected a string", file, MetadataKey);
            metadata[m.Name] = m.Value.GetString()!;
        }
    }

    private static SafeTensorInfo ReadEntry(string name, JsonElement entry, long dataStart, string file)
    {
        if (entry.ValueKind != JsonValueKind.Object)
            throw new CheckpointFormatException($"header entry is a {entry.ValueKind}, expected an object", file, name);

        if (!entry.TryGetProperty("dtype", out var dtypeEl) || dtypeEl.ValueKind != JsonValueKind.String)
            throw new CheckpointFormatException("header entry has no string 'dtype'", file, name);
        var dtypeName = dtypeEl.GetString()!;
        if (!DTypes.TryParse(dtypeName, out var dtype))
            throw new CheckpointFormatException($"unknown dtype '{dtypeName}'", file, name);

        if (!entry.TryGetProperty("shape", out var shapeEl) || shapeEl.ValueKind != JsonValueKind.Array)
            throw new CheckpointFormatException("header entry has no 'shape' array", file, name);
        var rank = shapeEl.GetArrayLength();
        if (rank > Shape.MaxRank)
            throw new CheckpointFormatException($"shape has rank {rank}, more than {Shape.MaxRank}", file, name);
        var dims = new long[rank];
        var i = 0;
        foreach (var d in shapeEl.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt64(out var v) || v < 0)
                throw new CheckpointFormatException($"shape dimension {i} is '{d}', expected a non-negative integer", file, name);
            dims[i++] = v;
        }
        var shape = new Shape(dims);

        if (!entry.TryGetProperty("data_offsets", out var offEl) || offEl.ValueKind != JsonValueKind.Array || offEl.GetArrayLength() != 2)
            throw new CheckpointFormatException("header entry has no 'data_offsets' pair", file, name);
        var begin = ReadOffset(offEl[0], "begin", file, name);
        var end = ReadOffset(offEl[1], "end", file, name);
        if (end < begin)
            throw new CheckpointFormatException($"data_offsets end {end} is before begin {begin}", file, name, dataStart + begin);

        if (!shape.TryGetElementCount(out var count) || count > long.MaxValue / dtype.SizeOf())
            throw new CheckpointFormatException($"shape {shape} of {dtype} overflows a 64-bit byte count", file, name);
        var expected = count * dtype.SizeOf();
        if (expected != end - begin)
            throw new CheckpointFormatException(
                $"shape {shape} of {dtype} needs {expected} bytes but data_offsets [{begin}, {end}) span {end - begin}", file, name, dataStart + begin);

        return new SafeTensorInfo(name, dtype, shape, begin, end, dataStart);
    }

    private static long ReadOffset(JsonElement el, string which, string file, string name)
    {
        if (el.ValueKind != JsonValueKind.Number || !el.TryGetInt64(out var v) || v < 0)
            throw new CheckpointFormatException($"data_offsets {which} is '{el}', expected a non-negative integer", file, name);
        return v;
    }

    /// <summary>The spec requires the tensors to cover the data section exactly: sorted by offset, no holes, no overlaps, nothing past the end.</summary>
    private static void CheckCoverage(List<SafeTensorInfo> tensors, long dataLength, long dataStart, string file)
    {
        var ordered = tensors.OrderBy(t => t.Begin).ThenBy(t => t.End).ToList();
        long cursor = 0;
        SafeTensorInfo? previous = null;
        foreach (var t in ordered)
        {
            if (t.End > dataLength)
                throw new CheckpointFormatException(
                    $"data_offsets [{t.Begin}, {t.End}) run past the {dataLength}-byte data section (file truncated?)", file, t.Name, dataStart + t.Begin);
            if (t.Begin < cursor)
                throw new CheckpointFormatException(
                    $"data_offsets [{t.Begin}, {t.End}) overlap tensor '{previous!.Name}' [{previous.Begin}, {previous.End})", file, t.Name, dataStart + t.Begin);
            if (t.Begin > cursor)
                throw new CheckpointFormatException(
                    $"{t.Begin - cursor} bytes before this tensor are indexed by no tensor (the spec forbids holes)", file, t.Name, dataStart + cursor);
            cursor = t.End;
            previous = t;
        }
        if (cursor != dataLength)
            throw new CheckpointFormatException(
                $"{dataLength - cursor} bytes after the last tensor are indexed by no tensor (trailing data or a damaged header)", file, previous?.Name, dataStart + cursor);
    }

}
