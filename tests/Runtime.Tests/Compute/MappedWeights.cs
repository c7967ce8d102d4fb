using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Compute;
using DeepSeek.Runtime.Tensors;

namespace DeepSeek.Runtime.Tests.Compute;

/// <summary>
/// Kernel-test weights written to temporary safetensors files and mapped back, so kernels read them as they read a
/// checkpoint; the files and their folder go on dispose. Also the seeded values and the host round trip the tests share.
/// </summary>
internal sealed class MappedWeights : IDisposable
{
    private readonly TempDir _dir = new();
    private readonly List<SafeTensorsFile> _files = [];

    /// <summary>Seeded values in [-1, 1).</summary>
    public static float[] Random(int n, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
    }

    /// <summary>A [rows, cols] weight stored as <paramref name="dtype"/> (F32, BF16, or F8_E4M3 with <paramref name="block"/>-square scale blocks).</summary>
    public WeightTensor Write(float[] values, int rows, int cols, DType dtype, int block = 128)
    {
        var name = $"w{_files.Count}";
        var w = new SafeTensorsWriter();
        if (dtype == DType.BF16) w.AddBF16(name, Shape.Of(rows, cols), values);
        else if (dtype == DType.F8_E4M3) w.AddFp8Block(name, rows, cols, values, blockSize: block);
        else w.AddF32(name, Shape.Of(rows, cols), values);
        var path = _dir.File(name + ".safetensors");
        w.WriteFile(path);
        var file = SafeTensorsFile.Open(path);
        _files.Add(file);
        CheckpointTensor? scale = dtype == DType.F8_E4M3 ? new CheckpointTensor(file, file.GetInfo(name + Checkpoint.ScaleInvSuffix)) : null;
        return new WeightTensor(new CheckpointTensor(file, file.GetInfo(name)), scale, block, block);
    }

    /// <summary>A [rows, cols] FP8 weight of the given E4M3 <paramref name="codes"/> and <paramref name="block"/>-square block scales (row-major grid).</summary>
    public WeightTensor WriteFp8Codes(byte[] codes, int rows, int cols, float[] scales, int block)
    {
        var name = $"w{_files.Count}";
        var (gridRows, gridCols) = ((rows + block - 1) / block, (cols + block - 1) / block);
        if (codes.Length != rows * cols || scales.Length != gridRows * gridCols) throw new ArgumentException("codes or scales of the wrong size");
        var w = new SafeTensorsWriter()
            .Add(name, DType.F8_E4M3, Shape.Of(rows, cols), codes)
            .AddF32(name + Checkpoint.ScaleInvSuffix, Shape.Of(gridRows, gridCols), scales);
        var path = _dir.File(name + ".safetensors");
        w.WriteFile(path);
        var file = SafeTensorsFile.Open(path);
        _files.Add(file);
        return new WeightTensor(new CheckpointTensor(file, file.GetInfo(name)),
            new CheckpointTensor(file, file.GetInfo(name + Checkpoint.ScaleInvSuffix)), block, block);
    }

    /// <summary>x [rows, w.Cols] · wᵀ through <paramref name="backend"/>, back on the host.</summary>
    public static float[] MatMul(IComputeBackend backend, ComputeWeight w, float[] x, int rows)
    {
        var xt = backend.Allocate(rows, w.Cols);
        backend.Upload(x, xt);
        var o = backend.Allocate(rows, w.Rows);
        backend.MatMul(xt, w, o);
        var host = new float[rows * w.Rows];
        backend.Download(o, host);
        return host;
    }

    public void Dispose()
    {
        foreach (var f in _files) f.Dispose();
        _dir.Dispose();
    }
}
