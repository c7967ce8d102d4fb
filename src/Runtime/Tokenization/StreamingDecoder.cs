using System.Text;

namespace DeepSeek.Runtime.Tokenization;

/// <summary>
/// Incremental detokenization for generation: <see cref="Add"/> one id, get the text it completes. A UTF-8
/// character split across tokens is held back until its last byte arrives, so no call ever yields a broken
/// character; the concatenation of all results plus <see cref="Flush"/> equals <see cref="BpeTokenizer.Decode"/>
/// of the same ids. One instance per stream; not thread-safe.
/// </summary>
public sealed class StreamingDecoder
{
    private readonly BpeTokenizer _tokenizer;
    private readonly bool _skipSpecialTokens;
    private readonly List<byte> _pending = [];
    private bool _first = true;

    internal StreamingDecoder(BpeTokenizer tokenizer, bool skipSpecialTokens)
    {
        _tokenizer = tokenizer;
        _skipSpecialTokens = skipSpecialTokens;
    }

    /// <summary>Feeds one id; returns the newly completed text (possibly empty).</summary>
    /// <exception cref="ArgumentOutOfRangeException">The id is not a token of the tokenizer.</exception>
    public string Add(int id)
    {
        if (!_tokenizer.AppendTokenBytes(id, _skipSpecialTokens, _pending, ref _first)) return "";
        var cut = CompletePrefix(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_pending));
        if (cut == 0) return "";
        var text = Encoding.UTF8.GetString(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_pending)[..cut]);
        _pending.RemoveRange(0, cut);
        return text;
    }

    /// <summary>Returns what is still held back (an unfinished character becomes U+FFFD) and resets.</summary>
    public string Flush()
    {
        var text = Encoding.UTF8.GetString(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_pending));
        _pending.Clear();
        return text;
    }

    /// <summary>
    /// The length of the longest prefix that ends outside a still-completable UTF-8 sequence: only a valid but
    /// unfinished trailing sequence (lead byte plus fitting continuation bytes) is held back.
    /// </summary>
    internal static int CompletePrefix(ReadOnlySpan<byte> bytes)
    {
        var end = bytes.Length;
        for (var back = 1; back <= 3 && back <= end; back++)
        {
            var b = bytes[end - back];
            if ((b & 0xC0) == 0x80) continue; // continuation byte: keep looking for the lead
            var need = b >= 0xC2 && b <= 0xDF ? 2 : b >= 0xE0 && b <= 0xEF ? 3 : b >= 0xF0 && b <= 0xF4 ? 4 : 0;
            if (need <= back) return end; // complete, or not a lead byte at all
            if (back >= 2 && !SecondByteFits(b, bytes[end - back + 1])) return end;
            return end - back;
        }
        return end;
    }

    private static bool SecondByteFits(byte lead, byte second) => lead switch
    {
        0xE0 => second >= 0xA0,
        0xED => second <= 0x9F,
        0xF0 => second >= 0x90,
        0xF4 => second <= 0x8F,
        _ => true,
    };
}
