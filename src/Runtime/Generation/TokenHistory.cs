namespace DeepSeek.Runtime.Generation;

/// <summary>
/// The token ids of one sequence so far — prompt first, then generated — with per-id counts kept up to date in O(1)
/// per token, so that <see cref="Sampler"/> applies penalties over the distinct ids seen instead of rescanning the context.
/// </summary>
/// <remarks>
/// Holds a generated-count array and an in-context flag array sized to the vocabulary (about 650 KB for DeepSeek-V3's
/// 129,280 ids). The id lists grow by doubling; once <c>capacity</c> is reached no further call allocates until it is
/// doubled, so pass the context length as <c>capacity</c> for an allocation-free decode loop.
/// </remarks>
public sealed class TokenHistory
{
    private readonly int[] _generatedCounts;
    private readonly bool[] _inContext;
    private int[] _tokens;
    private int[] _distinctContext;
    private int[] _distinctGenerated;
    private int _count, _distinctContextCount, _distinctGeneratedCount;

    /// <summary>Creates an empty history for a vocabulary of <paramref name="vocabSize"/> ids.</summary>
    /// <param name="vocabSize">Number of token ids (the logits row length).</param>
    /// <param name="capacity">Tokens to make room for up front (prompt plus generated).</param>
    public TokenHistory(int vocabSize, int capacity = 256)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(vocabSize);
        ArgumentOutOfRangeException.ThrowIfNegative(capacity);
        VocabSize = vocabSize;
        _generatedCounts = new int[vocabSize];
        _inContext = new bool[vocabSize];
        capacity = Math.Max(capacity, 16);
        _tokens = new int[capacity];
        _distinctContext = new int[Math.Min(capacity, vocabSize)];
        _distinctGenerated = new int[Math.Min(capacity, vocabSize)];
    }

    /// <summary>Number of token ids the history accepts: ids are in [0, VocabSize).</summary>
    public int VocabSize { get; }

    /// <summary>Prompt plus generated tokens.</summary>
    public int Count => _count;

    /// <summary>Number of prompt tokens (those added by <see cref="AddPrompt"/>).</summary>
    public int PromptLength { get; private set; }

    /// <summary>Number of generated tokens (those added by <see cref="AddGenerated"/>).</summary>
    public int GeneratedCount => _count - PromptLength;

    /// <summary>All tokens, prompt first. Valid until the next mutation.</summary>
    public ReadOnlySpan<int> Tokens => _tokens.AsSpan(0, _count);

    /// <summary>The generated tokens. Valid until the next mutation.</summary>
    public ReadOnlySpan<int> Generated => _tokens.AsSpan(PromptLength, GeneratedCount);

    /// <summary>Distinct ids anywhere in the context, in order of first appearance.</summary>
    internal ReadOnlySpan<int> DistinctContext => _distinctContext.AsSpan(0, _distinctContextCount);

    /// <summary>Distinct generated ids, in order of first generation.</summary>
    internal ReadOnlySpan<int> DistinctGenerated => _distinctGenerated.AsSpan(0, _distinctGeneratedCount);

    /// <summary>Appends prompt tokens; allowed only before the first generated token.</summary>
    /// <exception cref="InvalidOperationException">Tokens were already generated.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An id is outside [0, VocabSize).</exception>
    public void AddPrompt(ReadOnlySpan<int> tokenIds)
    {
        if (GeneratedCount != 0)
            throw new InvalidOperationException(
                $"Prompt tokens can only be added before generation starts; {GeneratedCount} tokens were already generated.");
        foreach (int id in tokenIds)
            CheckId(id);
        foreach (int id in tokenIds)
            AddToContext(id);
        PromptLength = _count;
    }

    /// <summary>Appends one generated token in O(1) (amortized).</summary>
    /// <exception cref="ArgumentOutOfRangeException">The id is outside [0, VocabSize).</exception>
    public void AddGenerated(int tokenId)
    {
        CheckId(tokenId);
        AddToContext(tokenId);
        if (_generatedCounts[tokenId]++ == 0)
            Push(ref _distinctGenerated, ref _distinctGeneratedCount, tokenId);
    }

    /// <summary>How many times <paramref name="tokenId"/> was generated (prompt occurrences not counted).</summary>
    public int GeneratedCountOf(int tokenId)
    {
        CheckId(tokenId);
        return _generatedCounts[tokenId];
    }

    internal int GeneratedCountOfUnchecked(int tokenId) => _generatedCounts[tokenId];

    /// <summary>Whether <paramref name="tokenId"/> occurs anywhere in the context (prompt or generated).</summary>
    public bool Contains(int tokenId)
    {
        CheckId(tokenId);
        return _inContext[tokenId];
    }

    /// <summary>Empties the history in O(distinct ids) and keeps its buffers for the next sequence.</summary>
    public void Clear()
    {
        foreach (int id in DistinctContext)
            _inContext[id] = false;
        foreach (int id in DistinctGenerated)
            _generatedCounts[id] = 0;
        _count = _distinctContextCount = _distinctGeneratedCount = PromptLength = 0;
    }

    private void AddToContext(int id)
    {
        Push(ref _tokens, ref _count, id);
        if (!_inContext[id])
        {
            _inContext[id] = true;
            Push(ref _distinctContext, ref _distinctContextCount, id);
        }
    }

    private static void Push(ref int[] buffer, ref int count, int id)
    {
        if (count == buffer.Length)
            Array.Resize(ref buffer, buffer.Length * 2);
        buffer[count++] = id;
    }

    private void CheckId(int id)
    {
        if ((uint)id >= (uint)VocabSize)
            throw new ArgumentOutOfRangeException("tokenId", id, $"Token id must be in [0, {VocabSize}).");
    }
}
