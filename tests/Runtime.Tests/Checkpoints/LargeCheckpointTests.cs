using System.Diagnostics;
using System.Text;
using DeepSeek.Runtime.Checkpoints;

namespace DeepSeek.Runtime.Tests.Checkpoints;

[CollectionDefinition(nameof(ResidentMemory), DisableParallelization = true)]
public sealed class ResidentMemory;

/// <summary>
/// Opening a many-GB sharded checkpoint reads headers only: resident memory must not grow with the data size.
/// The data is a sparse file, so the test costs no disk. (Opening time is measured in the benchmarks, not here.)
/// </summary>
[Collection(nameof(ResidentMemory))]
public class LargeCheckpointTests
{
    private const long TensorBytes = 1L << 30; // 1 GiB per tensor
    private const int TensorsPerShard = 2;
    private const int Shards = 3;              // 6 GiB in all

    [Fact]
    public void Opening_a_6_GiB_sharded_checkpoint_does_not_read_the_data()
    {
        using var dir = new TempDir();
        var weightMap = new StringBuilder();
        for (var s = 0; s < Shards; s++)
        {
            var shard = $"model-{s + 1:D5}-of-{Shards:D5}.safetensors";
            var header = new StringBuilder("{");
            for (var t = 0; t < TensorsPerShard; t++)
            {
                var name = $"blob.{s}.{t}";
                if (t > 0) header.Append(',');
                header.Append($"\"{name}\":{{\"dtype\":\"U8\",\"shape\":[{TensorBytes}],\"data_offsets\":[{t * TensorBytes},{(t + 1) * TensorBytes}]}}");
                if (weightMap.Length > 0) weightMap.Append(',');
                weightMap.Append($"\"{name}\":\"{shard}\"");
            }
            header.Append('}');
            var bytes = SafeTensorsBytes.Build(header.ToString(), []);
            using var stream = File.Create(dir.File(shard));
            stream.Write(bytes);
            stream.SetLength(bytes.Length + TensorsPerShard * TensorBytes); // sparse: no blocks allocated
        }
        File.WriteAllText(dir.File(SafeTensorsIndex.FileName), $"{{\"metadata\":{{\"total_size\":{Shards * TensorsPerShard * TensorBytes}}},\"weight_map\":{{{weightMap}}}}}");
        File.WriteAllText(dir.File("config.json"), ConfigFixtures.TinyV3);

        GC.Collect();
        var before = Process.GetCurrentProcess().WorkingSet64;
        using var ckpt = Checkpoint.Open(dir.Path);
        long sum = 0;
        foreach (var t in ckpt.Tensors)
        {
            // Touch the first and last byte of each tensor: one page each, not the gigabyte between.
            var view = t.View<byte>();
            sum += view[0] + view[view.Shape[0] - 1];
        }
        var grown = Process.GetCurrentProcess().WorkingSet64 - before;

        Assert.Equal(Shards, ckpt.Files.Count);
        Assert.Equal(Shards * TensorsPerShard, ckpt.TensorCount);
        Assert.Equal(Shards * TensorsPerShard * TensorBytes, ckpt.Tensors.Sum(t => t.Info.ByteLength));
        Assert.Equal(0, sum);
        Assert.True(grown < 128L << 20, $"resident memory grew by {grown >> 20} MiB opening a {Shards * TensorsPerShard} GiB checkpoint");
    }
}
