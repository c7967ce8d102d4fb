using DeepSeek.Runtime.Tensors;

namespace DeepSeek.Runtime.Checkpoints;

/// <summary>One tensor's header entry in a safetensors file, already validated against the file.</summary>
/// <param name="Name">Tensor name as in the header (e.g. <c>model.layers.0.self_attn.kv_b_proj.weight</c>).</param>
/// <param name="DType">Element type.</param>
/// <param name="Shape">Dimensions, outermost first.</param>
/// <param name="Begin">Start of the tensor's bytes, relative to the data section (header's <c>data_offsets[0]</c>).</param>
/// <param name="End">End (exclusive) of the tensor's bytes, relative to the data section.</param>
/// <param name="DataStart">Absolute file offset of the data section (8 + header length).</param>
public sealed record SafeTensorInfo(string Name, DType DType, Shape Shape, long Begin, long End, long DataStart)
{
    /// <summary>Bytes the tensor occupies.</summary>
    public long ByteLength => End - Begin;

    /// <summary>Absolute offset of the tensor's first byte in its file.</summary>
    public long FileOffset => DataStart + Begin;

    /// <summary>Number of elements.</summary>
    public long ElementCount => Shape.ElementCount;
}
