using DeepSeek.Runtime.Tensors;

namespace DeepSeek.Runtime.Checkpoints;

/// <summary>A tensor of a checkpoint: its header entry and the mapped file that holds it.</summary>
/// <param name="File">The shard holding the tensor.</param>
/// <param name="Info">The validated header entry.</param>
public readonly record struct CheckpointTensor(SafeTensorsFile File, SafeTensorInfo Info)
{
    /// <summary>Tensor name.</summary>
    public string Name => Info.Name;

    /// <summary>Stored element type.</summary>
    public DType DType => Info.DType;

    /// <summary>Stored shape.</summary>
    public Shape Shape => Info.Shape;

    /// <summary>A zero-copy view of the stored elements (see <see cref="SafeTensorsFile.GetView{T}"/>).</summary>
    public TensorView<T> View<T>() where T : unmanaged => File.GetView<T>(Info.Name);

    /// <summary>The stored bytes (tensors under 2 GiB).</summary>
    public ReadOnlySpan<byte> Bytes => File.GetBytes(Info.Name);
}
