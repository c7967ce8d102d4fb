using System.Numerics.Tensors;
using DeepSeek.Runtime.Tensors;

namespace DeepSeek.Runtime.Checkpoints;

/// <summary>
/// Reads every weight once looking for NaN or ±∞ (FP8 codes 0x7F/0xFF, non-finite BF16/F16/F32 values and scales).
/// Opt-in: it touches every byte of the checkpoint, which opening does not.
/// </summary>
public static class WeightScan
{
    /// <summary>Throws <see cref="CheckpointFormatException"/> naming the first tensor holding a non-finite value and its element index.</summary>
    public static void ThrowIfNonFinite(Checkpoint checkpoint, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        foreach (var t in checkpoint.Tensors.OrderBy(t => t.Name, StringComparer.Ordinal))
        {
            cancellationToken.ThrowIfCancellationRequested();
            var bad = FirstNonFinite(t);
            if (bad >= 0)
                throw new CheckpointFormatException($"weight holds a non-finite value at element {bad}", t.File.Path, t.Name, t.Info.FileOffset + bad * t.DType.SizeOf());
        }
    }

    /// <summary>Index of the first NaN/∞ element of <paramref name="t"/>, or −1 (integer tensors are skipped).</summary>
    public static long FirstNonFinite(CheckpointTensor t)
    {
        const int Chunk = 1 << 16;
        var n = t.Info.ElementCount;
        var buffer = new float[(int)Math.Min(Chunk, Math.Max(n, 1))];
        for (long start = 0; start < n; start += Chunk)
        {
            var len = (int)Math.Min(Chunk, n - start);
            var values = buffer.AsSpan(0, len);
            switch (t.DType)
            {
                case DType.F32: t.File.GetView<float>(t.Name).Reshape(new Shape(n)).Slice(0, start, len).Span.CopyTo(values); break;
                case DType.BF16: BFloat16Codec.ToSingle(t.File.GetView<ushort>(t.Name).Reshape(new Shape(n)).Slice(0, start, len).Span, values); break;
                case DType.F16: TensorPrimitives.ConvertToSingle(t.File.GetView<Half>(t.Name).Reshape(new Shape(n)).Slice(0, start, len).Span, values); break;
                case DType.F8_E4M3: Float8E4M3Codec.ToSingle(t.File.GetView<byte>(t.Name).Reshape(new Shape(n)).Slice(0, start, len).Span, values); break;
                default: return -1;
            }
            for (var i = 0; i < len; i++)
                if (!float.IsFinite(values[i])) return start + i;
        }
        return -1;
    }
}
