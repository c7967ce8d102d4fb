using System.Text;

namespace DeepSeek.Runtime.Generation;

/// <summary>What <see cref="StopSequenceMatcher.Append"/> decided about one chunk.</summary>
/// <param name="Text">Text that is safe to emit now (possibly empty).</param>
/// <param name="StopSequence">The stop string that matched, or null when generation goes on.</param>
public readonly record struct StopSequenceResult(string Text, string? StopSequence)
{
    /// <summary>True when a stop string matched: emit <see cref="Text"/>, then finish with <see cref="FinishReason.Stop"/>.</summary>
    public bool Stopped => StopSequence is not null;
}

/// <summary>
/// Finds stop strings in streamed text. Fed decoded chunks as they arrive, it emits only text that can no longer
/// become part of a stop string, and holds back any tail that is a prefix of one.
/// </summary>
/// <remarks>
/// The stop point is where a stop string first <em>ends</em> — the moment a streaming generator would see it —
/// and among stop strings ending there the longest wins; the text before it is emitted. This depends only on the
/// concatenated text, so how it is chunked never changes what is emitted or whether it stops.
/// Held-back text always starts at a stop string's first character, so a well-formed stop string never makes the
/// matcher split a surrogate pair.
/// </remarks>
public sealed class StopSequenceMatcher
{
    private readonly string[] _stops;
    private readonly int _maxLength;
    private readonly StringBuilder _pending = new();

    /// <summary>Creates a matcher for <paramref name="stopSequences"/> (may be empty: then text passes straight through).</summary>
    /// <exception cref="ArgumentException">A stop string is null or empty.</exception>
    public StopSequenceMatcher(IEnumerable<string> stopSequences)
    {
        ArgumentNullException.ThrowIfNull(stopSequences);
        _stops = [.. stopSequences];
        foreach (string s in _stops)
        {
            if (string.IsNullOrEmpty(s))
                throw new ArgumentException("Stop sequences must be non-empty strings.", nameof(stopSequences));
        }
        _maxLength = _stops.Length == 0 ? 0 : _stops.Max(s => s.Length);
    }

    /// <summary>The stop strings, in the order given.</summary>
    public IReadOnlyList<string> StopSequences => _stops;

    /// <summary>True once a stop string matched; <see cref="Append"/> then refuses more text until <see cref="Reset"/>.</summary>
    public bool IsStopped { get; private set; }

    /// <summary>Length of the text held back because it could still begin a stop string.</summary>
    public int HeldBackLength => _pending.Length;

    /// <summary>Adds the next decoded chunk.</summary>
    /// <returns>The text that may be emitted now and, on a match, the stop string (the text is then everything before it).</returns>
    /// <exception cref="InvalidOperationException">A stop string already matched.</exception>
    public StopSequenceResult Append(ReadOnlySpan<char> chunk)
    {
        if (IsStopped)
            throw new InvalidOperationException("A stop sequence already matched; call Reset before appending more text.");
        int firstNew = _pending.Length;
        _pending.Append(chunk);

        // Only stop strings ending inside the new chunk can be new matches; the held-back tail is long enough to
        // hold the start of any of them (it is the longest suffix that is a proper prefix of a stop string).
        for (int end = firstNew + 1; end <= _pending.Length; end++)
        {
            string? match = null;
            foreach (string s in _stops)
            {
                if (s.Length <= end && (match is null || s.Length > match.Length) && EndsAt(s, end))
                    match = s;
            }
            if (match is not null)
            {
                string before = _pending.ToString(0, end - match.Length);
                _pending.Clear();
                IsStopped = true;
                return new StopSequenceResult(before, match);
            }
        }

        int hold = HoldLength();
        string emit = _pending.ToString(0, _pending.Length - hold);
        _pending.Remove(0, _pending.Length - hold);
        return new StopSequenceResult(emit, null);
    }

    /// <summary>Ends the stream: returns the held-back text (a prefix of a stop string that never completed).</summary>
    public string Flush()
    {
        string rest = _pending.ToString();
        _pending.Clear();
        return rest;
    }

    /// <summary>Forgets held-back text and a past match, for the next generation.</summary>
    public void Reset()
    {
        _pending.Clear();
        IsStopped = false;
    }

    private bool EndsAt(string s, int end)
    {
        int start = end - s.Length;
        for (int i = 0; i < s.Length; i++)
        {
            if (_pending[start + i] != s[i])
                return false;
        }
        return true;
    }

    /// <summary>Length of the longest suffix of the pending text that is a proper prefix of some stop string.</summary>
    private int HoldLength()
    {
        for (int k = Math.Min(_pending.Length, _maxLength - 1); k > 0; k--)
        {
            int start = _pending.Length - k;
            foreach (string s in _stops)
            {
                if (s.Length > k && IsPrefixAt(s, start, k))
                    return k;
            }
        }
        return 0;
    }

    private bool IsPrefixAt(string s, int start, int length)
    {
        for (int i = 0; i < length; i++)
        {
            if (_pending[start + i] != s[i])
                return false;
        }
        return true;
    }
}
