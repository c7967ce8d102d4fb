namespace DeepSeek.Runtime.Tokenization;

/// <summary>
/// GPT-2's reversible byte ↔ printable-character table used by byte-level BPE: bytes that are printable
/// (<c>!</c>..<c>~</c>, <c>¡</c>..<c>¬</c>, <c>®</c>..<c>ÿ</c>) map to themselves, the other 68 to U+0100 upwards in byte order.
/// </summary>
internal static class ByteLevelAlphabet
{
    /// <summary>Character for each byte value.</summary>
    public static readonly char[] ByteToChar = Build();

    /// <summary>Byte for each character below U+0144, or -1 where the character is not in the alphabet.</summary>
    public static readonly short[] CharToByte = Invert(ByteToChar);

    private static char[] Build()
    {
        var table = new char[256];
        var next = 0;
        for (var b = 0; b < 256; b++)
        {
            var printable = b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
            table[b] = printable ? (char)b : (char)(256 + next++);
        }
        return table;
    }

    private static short[] Invert(char[] byteToChar)
    {
        var inverse = new short[0x144];
        Array.Fill(inverse, (short)-1);
        for (var b = 0; b < 256; b++) inverse[byteToChar[b]] = (short)b;
        return inverse;
    }

    /// <summary>Maps a byte-level token back to its bytes; false when a character is outside the alphabet.</summary>
    public static bool TryDecode(string token, out byte[] bytes)
    {
        bytes = new byte[token.Length];
        for (var i = 0; i < token.Length; i++)
        {
            var c = token[i];
            if (c >= CharToByte.Length || CharToByte[c] < 0)
            {
                bytes = [];
                return false;
            }
            bytes[i] = (byte)CharToByte[c];
        }
        return true;
    }

    /// <summary>The byte-level spelling of <paramref name="bytes"/> (one character per byte).</summary>
    public static string Encode(ReadOnlySpan<byte> bytes)
    {
        Span<char> chars = bytes.Length <= 256 ? stackalloc char[bytes.Length] : new char[bytes.Length];
        for (var i = 0; i < bytes.Length; i++) chars[i] = ByteToChar[bytes[i]];
        return new string(chars);
    }
}
