using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.RegularExpressions;
using DeepSeek.Runtime.Checkpoints;

namespace DeepSeek.Runtime.Tensors;

/// <summary>
/// NumPy <c>.npy</c> v1.0 files of little-endian float32 matrices: magic <c>\x93NUMPY</c>, version 1.0, a u16 header
/// length, a Python-dict header padded with spaces and a newline to a multiple of 64 bytes, then the data in C order.
/// </summary>
public static partial class NpyFile
{
    private static ReadOnlySpan<byte> Magic => [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    /// <summary>Writes <paramref name="values"/> as a float32 array of shape [rows, cols], atomically.</summary>
    public static void WriteFloat32(string path, ReadOnlySpan<float> values, int rows, int cols)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        ArgumentOutOfRangeException.ThrowIfNegative(cols);
        if (values.Length != (long)rows * cols) throw new ArgumentException($"{values.Length} values for shape ({rows}, {cols})", nameof(values));
        var dict = string.Create(CultureInfo.InvariantCulture, $"{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {cols}), }}");
        var unpadded = Magic.Length + 2 + 2 + dict.Length + 1;
        var header = dict + new string(' ', (64 - unpadded % 64) % 64) + "\n";
        var bytes = new byte[Magic.Length + 4 + header.Length + values.Length * 4];
        Magic.CopyTo(bytes);
        bytes[6] = 1;
        bytes[7] = 0;
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(8), (ushort)header.Length);
        Encoding.ASCII.GetBytes(header, bytes.AsSpan(10));
        var data = bytes.AsSpan(10 + header.Length);
        if (BitConverter.IsLittleEndian) MemoryMarshal.AsBytes(values).CopyTo(data);
        else for (var i = 0; i < values.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(data[(4 * i)..], values[i]);
        AtomicFile.WriteAllBytes(path, bytes);
    }

    /// <summary>Reads a float32 .npy of rank 1 or 2 (C order, little-endian) into its values and shape.</summary>
    /// <exception cref="FormatException">Not a float32 C-order .npy file.</exception>
    public static (float[] Values, int[] Shape) ReadFloat32(string path)
    {
        var bytes = File.ReadAllBytes(path);
        if (bytes.Length < 10 || !bytes.AsSpan(0, 6).SequenceEqual(Magic)) throw new FormatException($"'{path}' is not a .npy file");
        int headerLength, start;
        if (bytes[6] == 1) { headerLength = BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(8)); start = 10; }
        else { headerLength = (int)BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(8)); start = 12; }
        var header = Encoding.ASCII.GetString(bytes, start, headerLength);
        if (!header.Contains("'descr': '<f4'", StringComparison.Ordinal) || !header.Contains("'fortran_order': False", StringComparison.Ordinal))
            throw new FormatException($"'{path}' is not a little-endian float32 C-order array: {header.Trim()}");
        var shape = ShapePattern().Match(header) is { Success: true } m
            ? m.Groups[1].Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray()
            : throw new FormatException($"'{path}' has no shape in its header");
        var count = shape.Aggregate(1L, (a, d) => a * d);
        var data = bytes.AsSpan(start + headerLength);
        if (data.Length != count * 4) throw new FormatException($"'{path}' holds {data.Length} data bytes; shape ({string.Join(", ", shape)}) needs {count * 4}");
        return (MemoryMarshal.Cast<byte, float>(data).ToArray(), shape);
    }

    [GeneratedRegex(@"'shape': \(([^)]*)\)")]
    private static partial Regex ShapePattern();
}
