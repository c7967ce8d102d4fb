using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using DeepSeek.Runtime.Tensors;

namespace DeepSeek.Runtime.Checkpoints;

/// <summary>
/// Collects tensors and writes them as one safetensors file or as Hugging Face shards with a
/// <c>model.safetensors.index.json</c>. Every file is written to a temporary name and renamed into place, so a
/// crash or cancellation never leaves a half-written file under the final name.
/// </summary>
/// <remarks>
/// Layout follows the format spec: u64 LE header length, UTF-8 JSON header padded with spaces to a multiple of 8
/// bytes (so the data section is 8-aligned), then the tensors' bytes back to back in the order they were added.
/// </remarks>
public sealed class SafeTensorsWriter
{
    private readonly List<Entry> _entries = [];
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _metadata = new(StringComparer.Ordinal);

    private sealed record Entry(string Name, DType DType, Shape Shape, ReadOnlyMemory<byte> Data);

    /// <summary>Tensors added so far, in order.</summary>
    public int Count => _entries.Count;

    /// <summary>Total bytes of tensor data added so far.</summary>
    public long DataBytes => _entries.Sum(e => (long)e.Data.Length);

    /// <summary>Sets a <c>__metadata__</c> string (e.g. <c>format</c> = <c>pt</c>).</summary>
    public SafeTensorsWriter SetMetadata(string key, string value)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        ArgumentNullException.ThrowIfNull(value);
        _metadata[key] = value;
        return this;
    }

    /// <summary>Adds a tensor from its raw little-endian bytes (not copied: keep them unchanged until written).</summary>
    public SafeTensorsWriter Add(string name, DType dtype, Shape shape, ReadOnlyMemory<byte> data)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (name == SafeTensorsHeader.MetadataKey) throw new ArgumentException($"'{name}' is reserved for metadata", nameof(name));
        if (!_names.Add(name)) throw new ArgumentException($"tensor '{name}' was already added", nameof(name));
        var expected = shape.ElementCount * dtype.SizeOf();
        if (expected != data.Length)
        {
            _names.Remove(name);
            throw new ArgumentException($"tensor '{name}': shape {shape} of {dtype} needs {expected} bytes, got {data.Length}", nameof(data));
        }
        _entries.Add(new Entry(name, dtype, shape, data));
        return this;
    }

    /// <summary>Adds an F32 tensor (copied).</summary>
    public SafeTensorsWriter AddF32(string name, Shape shape, ReadOnlySpan<float> values) =>
        Add(name, DType.F32, shape, MemoryMarshal.AsBytes(values).ToArray());

    /// <summary>Adds a BF16 tensor from F32 values, rounded to nearest even.</summary>
    public SafeTensorsWriter AddBF16(string name, Shape shape, ReadOnlySpan<float> values)
    {
        var bits = new ushort[values.Length];
        BFloat16Codec.FromSingle(values, bits);
        return Add(name, DType.BF16, shape, MemoryMarshal.AsBytes(bits.AsSpan()).ToArray());
    }

    /// <summary>
    /// Adds a 2-D weight as block-scaled F8_E4M3 (DeepSeek-V3's layout): the codes under <paramref name="name"/> and
    /// an F32 <c>{name}_scale_inv</c> of shape [ceil(rows/block), ceil(cols/block)].
    /// </summary>
    public SafeTensorsWriter AddFp8Block(string name, int rows, int cols, ReadOnlySpan<float> values, int blockSize = BlockFp8.DefaultBlockSize)
    {
        var (gr, gc) = BlockFp8.ScaleGridShape(rows, cols, blockSize, blockSize);
        var codes = new byte[checked(rows * cols)];
        var scales = new float[gr * gc];
        BlockFp8.Quantize(values, rows, cols, codes, scales, blockSize, blockSize);
        Add(name, DType.F8_E4M3, Shape.Of(rows, cols), codes);
        return AddF32(name + "_scale_inv", Shape.Of(gr, gc), scales);
    }

    /// <summary>Writes everything to one file at <paramref name="path"/> (atomically).</summary>
    public void WriteFile(string path, CancellationToken cancellationToken = default) =>
        WriteAtomically(path, _entries, cancellationToken);

    /// <summary>
    /// Writes Hugging Face shards <c>{prefix}-00001-of-0000N.safetensors</c> of at most <paramref name="maxShardBytes"/>
    /// data bytes each (a larger tensor gets a shard of its own), then <c>{prefix}.safetensors.index.json</c>.
    /// With one shard, writes <c>{prefix}.safetensors</c> and no index. Returns the file names written.
    /// </summary>
    public IReadOnlyList<string> WriteSharded(string directory, long maxShardBytes, string prefix = "model", CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(maxShardBytes, 0);
        var shards = new List<List<Entry>> { new() };
        long size = 0;
        foreach (var e in _entries)
        {
            if (size > 0 && size + e.Data.Length > maxShardBytes)
            {
                shards.Add([]);
                size = 0;
            }
            shards[^1].Add(e);
            size += e.Data.Length;
        }
        return WriteGroups(directory, shards, prefix, cancellationToken);
    }

    /// <summary>
    /// Writes exactly <paramref name="shardCount"/> shards of about equal data size (tensors stay whole and in order),
    /// plus the index when <paramref name="shardCount"/> &gt; 1. Returns the file names written.
    /// </summary>
    public IReadOnlyList<string> WriteShards(string directory, int shardCount, string prefix = "model", CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(shardCount, 1);
        if (shardCount > _entries.Count)
            throw new ArgumentOutOfRangeException(nameof(shardCount), $"cannot split {_entries.Count} tensors into {shardCount} non-empty shards");
        var total = Math.Max(1, DataBytes);
        var shards = new List<List<Entry>> { new() };
        long cumulative = 0;
        for (var i = 0; i < _entries.Count; i++)
        {
            var e = _entries[i];
            var s = shards.Count - 1;
            var mustAdvance = _entries.Count - i == shardCount - s - 1;
            var pastTarget = cumulative + e.Data.Length > (s + 1) * (double)total / shardCount;
            if (shards[s].Count > 0 && s < shardCount - 1 && (mustAdvance || pastTarget)) shards.Add([]);
            shards[^1].Add(e);
            cumulative += e.Data.Length;
        }
        return WriteGroups(directory, shards, prefix, cancellationToken);
    }

    private List<string> WriteGroups(string directory, List<List<Entry>> shards, string prefix, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        ArgumentException.ThrowIfNullOrEmpty(prefix);
        Directory.CreateDirectory(directory);
        if (shards.Count == 1)
        {
            var single = prefix + ".safetensors";
            WriteAtomically(Path.Combine(directory, single), shards[0], cancellationToken);
            // A stale index would make readers ignore the single file just written.
            File.Delete(Path.Combine(directory, prefix + ".safetensors.index.json"));
            return [single];
        }

        var names = new List<string>(shards.Count + 1);
        var weightMap = new SortedDictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < shards.Count; i++)
        {
            var shardName = $"{prefix}-{i + 1:D5}-of-{shards.Count:D5}.safetensors";
            WriteAtomically(Path.Combine(directory, shardName), shards[i], cancellationToken);
            foreach (var e in shards[i]) weightMap[e.Name] = shardName;
            names.Add(shardName);
        }

        // The index goes last: until it is renamed into place, readers still see the previous complete set.
        var indexName = prefix + ".safetensors.index.json";
        var index = new Dictionary<string, object>
        {
            ["metadata"] = new Dictionary<string, long> { ["total_size"] = shards.Sum(g => g.Sum(e => (long)e.Data.Length)) },
            ["weight_map"] = weightMap,
        };
        AtomicFile.WriteAllBytes(Path.Combine(directory, indexName),
            JsonSerializer.SerializeToUtf8Bytes(index, new JsonSerializerOptions { WriteIndented = true }));
        names.Add(indexName);
        return names;
    }

    private void WriteAtomically(string path, List<Entry> entries, CancellationToken cancellationToken)
    {
        var header = BuildHeader(entries);
        AtomicFile.Write(path, stream =>
        {
            Span<byte> prefix = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)header.Length);
            stream.Write(prefix);
            stream.Write(header);
            foreach (var e in entries)
            {
                cancellationToken.ThrowIfCancellationRequested();
                stream.Write(e.Data.Span);
            }
        });
    }

    private byte[] BuildHeader(List<Entry> entries)
    {
        var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            if (_metadata.Count > 0)
            {
                json.WriteStartObject(SafeTensorsHeader.MetadataKey);
                foreach (var (k, v) in _metadata.OrderBy(kv => kv.Key, StringComparer.Ordinal)) json.WriteString(k, v);
                json.WriteEndObject();
            }
            long offset = 0;
            foreach (var e in entries)
            {
                json.WriteStartObject(e.Name);
                json.WriteString("dtype", e.DType.HeaderName());
                json.WriteStartArray("shape");
                foreach (var d in e.Shape.Dims) json.WriteNumberValue(d);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset + e.Data.Length);
                json.WriteEndArray();
                json.WriteEndObject();
                offset += e.Data.Length;
            }
            json.WriteEndObject();
        }
        var length = (int)buffer.Length;
        var padded = (length + 7) & ~7;
        var header = new byte[padded];
        buffer.GetBuffer().AsSpan(0, length).CopyTo(header);
        header.AsSpan(length).Fill((byte)' ');
        return header;
    }
}
