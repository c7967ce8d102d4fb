// Opens a Hugging Face DeepSeek checkpoint without copying its weights, checks every tensor against config.json,
// and reads one FP8 weight block the way a kernel would: codes times the block's scale.
//
//   dotnet run --project samples/InspectCheckpoint -- samples/checkpoints/tiny-deepseek-v3
using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Tensors;

var folder = args.Length > 0 ? args[0] : Path.Combine(AppContext.BaseDirectory, "../../../../checkpoints/tiny-deepseek-v3");
try
{
    using var checkpoint = Checkpoint.Open(folder);       // maps the shards; reads headers only
    var weights = WeightMap.Bind(checkpoint);             // every shape checked against config.json
    var config = checkpoint.Config;
    Console.WriteLine($"{config.ModelType}: {config.NumHiddenLayers} layers, {checkpoint.Files.Count} shard(s), {checkpoint.TensorCount} tensors");

    var wkvB = weights.Blocks[0].Mla!.WkvB;               // kv_b_proj: latent → per-head [k_nope | v]
    Console.WriteLine($"{wkvB.Name}: {wkvB.Tensor.DType} {wkvB.Tensor.Shape}{(wkvB.IsFp8 ? $", scales {wkvB.ScaleInv!.Value.Shape}" : "")}");

    var rows = (int)wkvB.Tensor.Shape[0];
    var cols = (int)wkvB.Tensor.Shape[1];
    float first;
    if (wkvB.IsFp8)
    {
        // Dequantise only the top-left 128×128 tile, as a GEMM would, not the whole matrix.
        var (tr, tc) = (Math.Min(rows, 128), Math.Min(cols, 128));
        var tile = new float[tr * tc];
        BlockFp8.DequantizeTile(wkvB.Tensor.View<byte>().Span, rows, cols, wkvB.ScaleInv!.Value.View<float>().Span, 0, 0, tile);
        first = tile[0];
    }
    else
    {
        first = wkvB.Tensor.DType == DType.F32 ? wkvB.Tensor.View<float>()[0, 0] : BFloat16Codec.ToSingle(wkvB.Tensor.View<ushort>()[0, 0]);
    }
    Console.WriteLine($"{wkvB.Name}[0, 0] = {first}");
    return 0;
}
catch (Exception e) when (e is CheckpointFormatException or ModelConfigException)
{
    Console.Error.WriteLine($"error: {e.Message}");
    return 1;
}
