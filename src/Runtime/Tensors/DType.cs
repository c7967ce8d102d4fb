namespace DeepSeek.Runtime.Tensors;

/// <summary>Element types a checkpoint tensor can hold, named as in the safetensors header.</summary>
public enum DType
{
    /// <summary>IEEE 754 binary32.</summary>
    F32,
    /// <summary>IEEE 754 binary16.</summary>
    F16,
    /// <summary>bfloat16: the top 16 bits of a binary32.</summary>
    BF16,
    /// <summary>OCP FP8 E4M3FN: 1 sign, 4 exponent (bias 7), 3 mantissa, no infinities, max 448.</summary>
    F8_E4M3,
    /// <summary>IEEE 754 binary64.</summary>
    F64,
    /// <summary>Signed 8-bit integer (raw).</summary>
    I8,
    /// <summary>Signed 16-bit integer (raw).</summary>
    I16,
    /// <summary>Signed 32-bit integer (raw).</summary>
    I32,
    /// <summary>Signed 64-bit integer (raw).</summary>
    I64,
    /// <summary>Unsigned 8-bit integer (raw).</summary>
    U8,
    /// <summary>One byte per boolean (raw).</summary>
    BOOL,
}

/// <summary>Sizes and names of <see cref="DType"/> values.</summary>
public static class DTypes
{
    /// <summary>Bytes one element occupies.</summary>
    public static int SizeOf(this DType dtype) => dtype switch
    {
        DType.F64 or DType.I64 => 8,
        DType.F32 or DType.I32 => 4,
        DType.F16 or DType.BF16 or DType.I16 => 2,
        DType.F8_E4M3 or DType.I8 or DType.U8 or DType.BOOL => 1,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "unknown dtype"),
    };

    /// <summary>The dtype's name as written in a safetensors header (e.g. <c>"BF16"</c>).</summary>
    public static string HeaderName(this DType dtype) => dtype.ToString();

    /// <summary>Parses a safetensors header dtype name; false for names this runtime does not know.</summary>
    public static bool TryParse(string name, out DType dtype)
    {
        switch (name)
        {
            case "F32": dtype = DType.F32; return true;
            case "F16": dtype = DType.F16; return true;
            case "BF16": dtype = DType.BF16; return true;
            case "F8_E4M3": dtype = DType.F8_E4M3; return true;
            case "F64": dtype = DType.F64; return true;
            case "I8": dtype = DType.I8; return true;
            case "I16": dtype = DType.I16; return true;
            case "I32": dtype = DType.I32; return true;
            case "I64": dtype = DType.I64; return true;
            case "U8": dtype = DType.U8; return true;
            case "BOOL": dtype = DType.BOOL; return true;
            default: dtype = default; return false;
        }
    }

    /// <summary>True for the floating-point dtypes the compute layer can read as numbers.</summary>
    public static bool IsFloat(this DType dtype) =>
        dtype is DType.F32 or DType.F16 or DType.BF16 or DType.F8_E4M3 or DType.F64;
}
