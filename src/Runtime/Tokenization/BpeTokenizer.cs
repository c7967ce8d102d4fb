using System.Text;
using System.Text.Json;

namespace DeepSeek.Runtime.Tokenization;

/// <summary>
/// A Hugging Face <c>tokenizer.json</c> byte-level BPE tokenizer (DeepSeek-V2/V3/R1, Qwen2/2.5, Llama-3 style),
/// written to give exactly the ids of the Rust <c>tokenizers</c> library.
/// </summary>
/// <remarks>
/// <para>Pipeline (as HF): lone surrogates become U+FFFD; added tokens with <c>normalized: false</c> are cut out of
/// the raw text; the rest is normalized (NFC …) and added tokens with <c>normalized: true</c> are cut out; each
/// remaining segment is pre-tokenized (Split / Digits / ByteLevel) into pieces; each piece becomes bytes, then ids by
/// BPE merges (lowest rank first, leftmost on ties). A bounded LRU cache maps recent pieces to their ids.</para>
/// <para>Regexes match on Unicode scalar values, like Rust's <c>onig</c>: astral characters (𝐀, 𠀀, emoji) are single
/// characters for <c>\p{…}</c>. This is done by transcoding astral scalars to same-category BMP stand-ins before
/// running .NET's regex, a trick proven exact at load time for each pattern (see <see cref="ScalarRegex"/>) and
/// checked against the Rust tokenizer's ids in the tests.</para>
/// <para>All members are thread-safe; the only shared mutable state is the cache, which is locked.</para>
/// </remarks>
public sealed partial class BpeTokenizer
{
    /// <summary>Pieces remembered by the cache (HF uses 10,000 as well).</summary>
    public const int DefaultCacheCapacity = 10_000;

    private readonly BpeModel _model;
    private readonly Normalizer? _normalizer;
    private readonly PreTokenizer[] _preTokenizers;
    private readonly AddedTokenMatcher _rawMatcher;
    private readonly AddedTokenMatcher _normalizedMatcher;
    private readonly PostProcessor? _postProcessor;
    private readonly bool _byteLevelDecoder;
    private readonly Dictionary<string, AddedToken> _addedByContent = new(StringComparer.Ordinal);
    private readonly Dictionary<int, AddedToken> _addedById = [];
    private readonly byte[]?[] _tokenBytes;
    private readonly bool[] _special;
    private readonly PieceCache _cache;

    private BpeTokenizer(TokenizerParts parts, int cacheCapacity)
    {
        _model = parts.Model;
        _normalizer = parts.Normalizer;
        _preTokenizers = [.. parts.PreTokenizers];
        _postProcessor = parts.PostProcessor;
        _byteLevelDecoder = parts.ByteLevelDecoder;
        foreach (var original in parts.AddedTokens)
        {
            // HF keeps (matches and decodes) a normalized added token in its normalized spelling.
            var t = original.Normalized && _normalizer is not null ? original with { Content = _normalizer.Apply(Sanitize(original.Content)) } : original;
            _addedByContent.TryAdd(t.Content, t);
            _addedByContent.TryAdd(original.Content, t);
            _addedById[t.Id] = t;
        }
        AddedTokens = [.. _addedById.Values.OrderBy(t => t.Id)];
        _rawMatcher = new AddedTokenMatcher(AddedTokens.Where(t => !t.Normalized).Select(t => (t.Content, t)));
        _normalizedMatcher = new AddedTokenMatcher(AddedTokens.Where(t => t.Normalized).Select(t => (t.Content, t)));
        VocabSize = Math.Max(_model.IdLimit, _addedById.Count == 0 ? 0 : _addedById.Keys.Max() + 1);
        _tokenBytes = new byte[]?[VocabSize];
        _special = new bool[VocabSize];
        for (var id = 0; id < VocabSize; id++)
        {
            var token = IdToToken(id);
            if (token is null) continue;
            _tokenBytes[id] = _byteLevelDecoder && ByteLevelAlphabet.TryDecode(token, out var bytes) ? bytes : Encoding.UTF8.GetBytes(token);
            _special[id] = _addedByContent.TryGetValue(token, out var added) && added.Special;
        }
        _cache = new PieceCache(cacheCapacity);
    }

    /// <summary>Reads a <c>tokenizer.json</c> file.</summary>
    /// <exception cref="TokenizerFormatException">The file is malformed or uses an unsupported feature.</exception>
    public static BpeTokenizer Load(string tokenizerJsonPath, int cacheCapacity = DefaultCacheCapacity)
    {
        ArgumentException.ThrowIfNullOrEmpty(tokenizerJsonPath);
        var json = File.ReadAllText(tokenizerJsonPath);
        return new BpeTokenizer(TokenizerJson.Parse(json, tokenizerJsonPath), cacheCapacity);
    }

    /// <summary>Builds a tokenizer from the text of a <c>tokenizer.json</c>.</summary>
    /// <exception cref="TokenizerFormatException">The JSON is malformed or uses an unsupported feature.</exception>
    public static BpeTokenizer FromJson(string json, int cacheCapacity = DefaultCacheCapacity)
    {
        ArgumentNullException.ThrowIfNull(json);
        return new BpeTokenizer(TokenizerJson.Parse(json, null), cacheCapacity);
    }

    /// <summary>
    /// Loads <c>tokenizer.json</c> from a checkpoint folder and, when present, <c>tokenizer_config.json</c> for
    /// <see cref="BosTokenId"/>, <see cref="EosTokenId"/> and <see cref="AddBosToken"/>.
    /// </summary>
    public static BpeTokenizer FromDirectory(string checkpointDir, int cacheCapacity = DefaultCacheCapacity)
    {
        ArgumentException.ThrowIfNullOrEmpty(checkpointDir);
        var path = Path.Combine(checkpointDir, "tokenizer.json");
        if (!File.Exists(path)) throw new FileNotFoundException($"no tokenizer.json in '{checkpointDir}'", path);
        var tokenizer = Load(path, cacheCapacity);
        var configPath = Path.Combine(checkpointDir, "tokenizer_config.json");
        if (File.Exists(configPath)) tokenizer.ReadConfig(File.ReadAllText(configPath), configPath);
        return tokenizer;
    }

    /// <summary>Ids the tokenizer can produce or decode: the largest vocabulary or added-token id plus one.</summary>
    public int VocabSize { get; }

    /// <summary>The added tokens (special and not), by id.</summary>
    public IReadOnlyList<AddedToken> AddedTokens { get; }

    /// <summary>Id of <c>bos_token</c> from <c>tokenizer_config.json</c>, when loaded from a directory that names one.</summary>
    public int? BosTokenId { get; private set; }

    /// <summary>Id of <c>eos_token</c> from <c>tokenizer_config.json</c>, when loaded from a directory that names one.</summary>
    public int? EosTokenId { get; private set; }

    /// <summary><c>add_bos_token</c> from <c>tokenizer_config.json</c> (false when absent).</summary>
    public bool AddBosToken { get; private set; }

    /// <summary>Entries in the pre-token cache now (for diagnostics).</summary>
    public int CachedPieces => _cache.Count;

    /// <summary>The id of a token (added token or vocabulary entry, in its stored spelling), or null.</summary>
    public int? TokenToId(string token)
    {
        ArgumentNullException.ThrowIfNull(token);
        if (_addedByContent.TryGetValue(token, out var added)) return added.Id;
        return _model.TryGetId(token, out var id) ? id : null;
    }

    /// <summary>The stored spelling of a token id (byte-level characters for vocabulary entries), or null.</summary>
    public string? IdToToken(int id) => _addedById.TryGetValue(id, out var added) ? added.Content : _model.IdToToken(id);

    /// <summary>Whether <paramref name="id"/> is a special added token (dropped when decoding with skipSpecialTokens).</summary>
    public bool IsSpecialToken(int id) => (uint)id < (uint)_special.Length && _special[id];

    private void ReadConfig(string json, string file)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json);
        }
        catch (JsonException e)
        {
            throw new TokenizerFormatException($"not valid JSON: {e.Message}", "", file, e);
        }
        using (doc)
        {
            var root = new TokenizerJsonNode(doc.RootElement, "", file);
            if (root.Element.ValueKind != JsonValueKind.Object) throw root.Error("the document must be a JSON object");
            BosTokenId = SpecialId(root, "bos_token");
            EosTokenId = SpecialId(root, "eos_token");
            AddBosToken = root.OptBool("add_bos_token", false);
        }
    }

    private int? SpecialId(TokenizerJsonNode root, string key)
    {
        if (!root.TryGet(key, out var node)) return null;
        var content = node.Element.ValueKind == JsonValueKind.Object ? node.RequireString("content") : node.String();
        return TokenToId(content) ?? throw node.Error($"'{content}' is not a token of tokenizer.json");
    }
}
