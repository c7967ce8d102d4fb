using DeepSeek.Runtime.Tensors;

namespace DeepSeek.Runtime.Checkpoints;

/// <summary>
/// A Hugging Face checkpoint folder as users download it: <c>config.json</c> plus one <c>model.safetensors</c> or
/// shards listed by <c>model.safetensors.index.json</c>. Opening maps every shard and validates headers, the index
/// and the FP8 scale grids; no tensor data is read. Thread-safe for reading; dispose to unmap.
/// </summary>
public sealed class Checkpoint : IDisposable
{
    /// <summary>Suffix of the companion scale tensor of an FP8 weight.</summary>
    public const string ScaleInvSuffix = "_scale_inv";

    private readonly Dictionary<string, CheckpointTensor> _tensors;

    private Checkpoint(string directory, ModelConfig config, SafeTensorsIndex? index, List<SafeTensorsFile> files, Dictionary<string, CheckpointTensor> tensors)
    {
        Directory = directory;
        Config = config;
        Index = index;
        Files = files;
        _tensors = tensors;
    }

    /// <summary>Full path of the folder.</summary>
    public string Directory { get; }

    /// <summary>The parsed <c>config.json</c>.</summary>
    public ModelConfig Config { get; }

    /// <summary>The shard index, when the checkpoint is sharded.</summary>
    public SafeTensorsIndex? Index { get; }

    /// <summary>The mapped safetensors files, in index (or name) order.</summary>
    public IReadOnlyList<SafeTensorsFile> Files { get; }

    /// <summary>Every tensor in the checkpoint.</summary>
    public IEnumerable<CheckpointTensor> Tensors => _tensors.Values;

    /// <summary>Number of tensors.</summary>
    public int TensorCount => _tensors.Count;

    /// <summary>The tensor named <paramref name="name"/>, if present.</summary>
    public bool TryGet(string name, out CheckpointTensor tensor) => _tensors.TryGetValue(name, out tensor);

    /// <summary>The tensor named <paramref name="name"/>.</summary>
    /// <exception cref="CheckpointFormatException">The checkpoint has no such tensor.</exception>
    public CheckpointTensor Get(string name) =>
        _tensors.TryGetValue(name, out var t) ? t : throw new CheckpointFormatException("tensor not found in checkpoint", Directory, name);

    /// <summary>Opens the checkpoint folder <paramref name="directory"/>.</summary>
    /// <exception cref="CheckpointFormatException">A file is missing or damaged, or the index and shards disagree.</exception>
    /// <exception cref="ModelConfigException"><c>config.json</c> is missing or invalid.</exception>
    public static Checkpoint Open(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        var dir = Path.GetFullPath(directory);
        if (!System.IO.Directory.Exists(dir))
            throw new CheckpointFormatException("checkpoint folder not found", dir);
        var config = ModelConfig.Load(Path.Combine(dir, "config.json"));

        var files = new List<SafeTensorsFile>();
        try
        {
            var indexPath = Path.Combine(dir, SafeTensorsIndex.FileName);
            SafeTensorsIndex? index = null;
            Dictionary<string, CheckpointTensor> tensors;
            if (File.Exists(indexPath))
            {
                index = SafeTensorsIndex.Load(indexPath);
                tensors = OpenIndexed(dir, index, files);
            }
            else
            {
                tensors = OpenUnindexed(dir, files);
            }
            CheckFp8Scales(config, tensors);
            return new Checkpoint(dir, config, index, files, tensors);
        }
        catch
        {
            foreach (var f in files) f.Dispose();
            throw;
        }
    }

    private static Dictionary<string, CheckpointTensor> OpenIndexed(string dir, SafeTensorsIndex index, List<SafeTensorsFile> files)
    {
        var byFile = new Dictionary<string, SafeTensorsFile>(StringComparer.Ordinal);
        foreach (var name in index.Files)
        {
            var path = Path.Combine(dir, name);
            if (!File.Exists(path))
            {
                var first = index.WeightMap.First(kv => kv.Value == name).Key;
                throw new CheckpointFormatException($"index names shard '{name}', which does not exist", index.Path, first);
            }
            var file = SafeTensorsFile.Open(path);
            files.Add(file);
            byFile[name] = file;
        }

        var tensors = new Dictionary<string, CheckpointTensor>(StringComparer.Ordinal);
        foreach (var (tensor, fileName) in index.WeightMap)
        {
            var file = byFile[fileName];
            if (!file.TryGetInfo(tensor, out var info))
                throw new CheckpointFormatException($"index places this tensor in '{fileName}', which does not contain it", index.Path, tensor);
            tensors[tensor] = new CheckpointTensor(file, info);
        }
        foreach (var file in files)
            foreach (var info in file.Tensors)
                if (!index.WeightMap.ContainsKey(info.Name))
                    throw new CheckpointFormatException($"shard holds a tensor the index does not list (index and shards are from different downloads?)", file.Path, info.Name, info.FileOffset);
        return tensors;
    }

    private static Dictionary<string, CheckpointTensor> OpenUnindexed(string dir, List<SafeTensorsFile> files)
    {
        var single = Path.Combine(dir, "model.safetensors");
        var paths = File.Exists(single)
            ? [single]
            : System.IO.Directory.GetFiles(dir, "*.safetensors").Order(StringComparer.Ordinal).ToArray();
        if (paths.Length == 0)
            throw new CheckpointFormatException($"no '{SafeTensorsIndex.FileName}' and no .safetensors files", dir);

        var tensors = new Dictionary<string, CheckpointTensor>(StringComparer.Ordinal);
        foreach (var path in paths)
        {
            var file = SafeTensorsFile.Open(path);
            files.Add(file);
            foreach (var info in file.Tensors)
                if (!tensors.TryAdd(info.Name, new CheckpointTensor(file, info)))
                    throw new CheckpointFormatException($"tensor also appears in '{tensors[info.Name].File.Path}'", path, info.Name, info.FileOffset);
        }
        return tensors;
    }

    /// <summary>
    /// Every F8_E4M3 weight needs an F32 <c>{name}_scale_inv</c> holding one scale per block of
    /// <c>quantization_config.weight_block_size</c> (128×128 unless the config says otherwise), edge blocks partial.
    /// </summary>
    private static void CheckFp8Scales(ModelConfig config, Dictionary<string, CheckpointTensor> tensors)
    {
        var blockRows = config.Quantization?.BlockRows ?? BlockFp8.DefaultBlockSize;
        var blockCols = config.Quantization?.BlockCols ?? BlockFp8.DefaultBlockSize;
        foreach (var t in tensors.Values)
        {
            if (t.DType != DType.F8_E4M3) continue;
            if (t.Shape.Rank != 2)
                throw new CheckpointFormatException($"FP8 weight has shape {t.Shape}; block scaling needs a 2-D [out, in] matrix", t.File.Path, t.Name, t.Info.FileOffset);
            var scaleName = t.Name + ScaleInvSuffix;
            if (!tensors.TryGetValue(scaleName, out var scale))
                throw new CheckpointFormatException($"FP8 weight has no '{scaleName}' tensor", t.File.Path, t.Name, t.Info.FileOffset);
            if (scale.DType is not (DType.F32 or DType.BF16))
                throw new CheckpointFormatException($"scale is {scale.DType}; expected F32", scale.File.Path, scaleName, scale.Info.FileOffset);
            if (t.Shape[0] > int.MaxValue || t.Shape[1] > int.MaxValue)
                throw new CheckpointFormatException($"FP8 weight shape {t.Shape} is too large", t.File.Path, t.Name);
            var (gr, gc) = BlockFp8.ScaleGridShape((int)t.Shape[0], (int)t.Shape[1], blockRows, blockCols);
            var expected = Shape.Of(gr, gc);
            if (scale.Shape != expected)
                throw new CheckpointFormatException(
                    $"scale grid is {scale.Shape} but weight {t.Shape} in {blockRows}×{blockCols} blocks needs {expected}", scale.File.Path, scaleName, scale.Info.FileOffset);
        }
    }

    /// <summary>Unmaps every file.</summary>
    public void Dispose()
    {
        foreach (var f in Files) f.Dispose();
    }
}
