using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Compute;
using DeepSeek.Runtime.Tensors;

namespace DeepSeek.Benchmarks.Kernels;

/// <summary>
/// Seeded random weights written to a temporary safetensors file and mapped back, so kernels read them exactly as they
/// read a checkpoint (zero-copy views of the mapping; FP8 with its 128×128 <c>_scale_inv</c> grid).
/// </summary>
internal sealed class KernelWeights : IDisposable
{
    private readonly string _directory;
    private readonly SafeTensorsFile _file;

    private KernelWeights(string directory, SafeTensorsFile file) => (_directory, _file) = (directory, file);

    /// <summary>Writes <paramref name="count"/> matrices [rows, cols] named w0, w1, … in <paramref name="dtype"/> (F32, BF16 or F8_E4M3).</summary>
    public static KernelWeights Create(DType dtype, int count, int rows, int cols, int seed = 1)
    {
        var directory = Directory.CreateTempSubdirectory("kernel-bench-").FullName;
        var writer = new SafeTensorsWriter();
        var rng = new Random(seed);
        var values = new float[rows * cols];
        for (var m = 0; m < count; m++)
        {
            for (var i = 0; i < values.Length; i++) values[i] = (float)(rng.NextDouble() * 2 - 1) * 0.05f;
            var name = $"w{m}";
            _ = dtype switch
            {
                DType.F32 => writer.AddF32(name, Shape.Of(rows, cols), values),
                DType.BF16 => writer.AddBF16(name, Shape.Of(rows, cols), values),
                DType.F8_E4M3 => writer.AddFp8Block(name, rows, cols, values),
                _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "F32, BF16 or F8_E4M3"),
            };
        }
        var path = Path.Combine(directory, "weights.safetensors");
        writer.WriteFile(path);
        return new KernelWeights(directory, SafeTensorsFile.Open(path));
    }

    /// <summary>Matrix <paramref name="index"/> bound to <paramref name="backend"/>.</summary>
    public ComputeWeight Bind(IComputeBackend backend, int index)
    {
        var name = $"w{index}";
        var scale = _file.TryGetInfo(name + Checkpoint.ScaleInvSuffix, out var s) ? new CheckpointTensor(_file, s) : (CheckpointTensor?)null;
        return backend.Bind(new WeightTensor(new CheckpointTensor(_file, _file.GetInfo(name)), scale));
    }

    /// <summary>Seeded values in [-1, 1) for an activation tensor.</summary>
    public static float[] Activations(int count, int seed = 2)
    {
        var rng = new Random(seed);
        return [.. Enumerable.Range(0, count).Select(_ => (float)(rng.NextDouble() * 2 - 1))];
    }

    /// <summary>Bytes one element of <paramref name="dtype"/> takes, FP8 block scales included (4 bytes per 128×128).</summary>
    public static double BytesPerWeight(DType dtype) => dtype switch
    {
        DType.F32 => 4,
        DType.BF16 => 2,
        _ => 1 + 4.0 / (128 * 128),
    };

    public void Dispose()
    {
        _file.Dispose();
        Directory.Delete(_directory, recursive: true);
    }
}
