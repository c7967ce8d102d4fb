using System.Text;

namespace DeepSeek.Runtime.Tokenization;

public sealed partial class BpeTokenizer
{
    /// <summary>
    /// Decodes ids to text as HF does: byte-level tokens become their bytes, added tokens their text, and the bytes
    /// are read as UTF-8 with invalid sequences replaced by U+FFFD.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">An id is not a token of this tokenizer; the message names it.</exception>
    public string Decode(IEnumerable<int> ids, bool skipSpecialTokens = false)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var buffer = new List<byte>();
        var first = true;
        foreach (var id in ids) AppendTokenBytes(id, skipSpecialTokens, buffer, ref first);
        return Encoding.UTF8.GetString(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(buffer));
    }

    /// <summary>A decoder that turns ids into text one at a time, never splitting a UTF-8 character.</summary>
    public StreamingDecoder CreateStreamingDecoder(bool skipSpecialTokens = false) => new(this, skipSpecialTokens);

    /// <summary>Appends the bytes of one token; false when it was skipped.</summary>
    internal bool AppendTokenBytes(int id, bool skipSpecialTokens, List<byte> buffer, ref bool first)
    {
        var bytes = (uint)id < (uint)_tokenBytes.Length ? _tokenBytes[id] : null;
        if (bytes is null)
            throw new ArgumentOutOfRangeException(nameof(id), id, $"token id {id} is not in the vocabulary (size {VocabSize})");
        if (skipSpecialTokens && _special[id]) return false;
        // Without a ByteLevel decoder HF joins the tokens with spaces.
        if (!_byteLevelDecoder && !first) buffer.Add((byte)' ');
        buffer.AddRange(bytes);
        first = false;
        return true;
    }
}
