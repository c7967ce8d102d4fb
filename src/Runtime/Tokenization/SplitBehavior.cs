namespace DeepSeek.Runtime.Tokenization;

/// <summary>What a <c>Split</c> pre-tokenizer does with each match (HF <c>SplitDelimiterBehavior</c>).</summary>
internal enum SplitBehavior
{
    /// <summary>Matches are dropped.</summary>
    Removed,
    /// <summary>Every match is a piece of its own.</summary>
    Isolated,
    /// <summary>A match joins the piece before it.</summary>
    MergedWithPrevious,
    /// <summary>A match joins the piece after it.</summary>
    MergedWithNext,
    /// <summary>Adjacent matches form one piece.</summary>
    Contiguous,
}
