using System.Buffers.Binary;
using System.Text;

namespace DeepSeek.Runtime.Tests.Checkpoints;

/// <summary>Builds safetensors files byte by byte from the spec, independently of our writer.</summary>
internal static class SafeTensorsBytes
{
    public static byte[] Build(string headerJson, ReadOnlySpan<byte> data, ulong? declaredLength = null)
    {
        var header = Encoding.UTF8.GetBytes(headerJson);
        var bytes = new byte[8 + header.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, declaredLength ?? (ulong)header.Length);
        header.CopyTo(bytes, 8);
        data.CopyTo(bytes.AsSpan(8 + header.Length));
        return bytes;
    }

    /// <summary>Two tensors: a [2,2] F32 and a [3] BF16, 22 data bytes.</summary>
    public const string TwoTensors =
        """{"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},"b":{"dtype":"BF16","shape":[3],"data_offsets":[16,22]}}""";

    public static byte[] TwoTensorData()
    {
        var data = new byte[22];
        for (var i = 0; i < 4; i++) BinaryPrimitives.WriteSingleLittleEndian(data.AsSpan(4 * i), i + 0.5f);
        BinaryPrimitives.WriteUInt16LittleEndian(data.AsSpan(16), 0x3F80); // 1.0
        BinaryPrimitives.WriteUInt16LittleEndian(data.AsSpan(18), 0xC000); // -2.0
        BinaryPrimitives.WriteUInt16LittleEndian(data.AsSpan(20), 0x4040); // 3.0
        return data;
    }
}
