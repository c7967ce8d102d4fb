namespace DeepSeek.Runtime.Tokenization;

/// <summary>A pre-token: a slice of a string (the segment, or a copy when a space was prepended).</summary>
internal readonly record struct Piece(string Text, int Start, int Length)
{
    public ReadOnlySpan<char> Span => Text.AsSpan(Start, Length);
}
