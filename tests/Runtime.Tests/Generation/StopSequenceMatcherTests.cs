using DeepSeek.Runtime.Generation;
using FsCheck;
using FsCheck.Fluent;

namespace DeepSeek.Runtime.Tests.Generation;

public class StopSequenceMatcherTests
{
    /// <summary>Emitted text (plus the flushed tail when no stop) and the matched stop string, for one chunking.</summary>
    private static (string Text, string? Stop) Run(string[] stops, IEnumerable<string> chunks)
    {
        var m = new StopSequenceMatcher(stops);
        var text = new System.Text.StringBuilder();
        foreach (string chunk in chunks)
        {
            var r = m.Append(chunk);
            text.Append(r.Text);
            if (r.Stopped)
            {
                Assert.True(m.IsStopped);
                Assert.Equal("", m.Flush());
                return (text.ToString(), r.StopSequence);
            }
        }
        return (text + m.Flush(), null);
    }

    /// <summary>
    /// Reference semantics on the whole text: the first position where any stop string ends; the longest one ending
    /// there; the text before it.
    /// </summary>
    private static (string Text, string? Stop) Reference(string[] stops, string text)
    {
        for (int end = 1; end <= text.Length; end++)
        {
            string? best = stops.Where(s => s.Length <= end && text.AsSpan(0, end).EndsWith(s, StringComparison.Ordinal))
                .OrderByDescending(s => s.Length).FirstOrDefault();
            if (best is not null)
                return (text[..(end - best.Length)], best);
        }
        return (text, null);
    }

    private static IEnumerable<string[]> Chunkings(string text)
    {
        yield return [text];
        yield return [.. text.Select(c => c.ToString())];
        for (int i = 0; i <= text.Length; i++)
        {
            yield return [text[..i], text[i..]];
            for (int j = i; j <= text.Length; j++)
                yield return [text[..i], text[i..j], text[j..]];
        }
    }

    public static TheoryData<string[], string, string, string?> Cases => new()
    {
        { ["ab", "abc", "bc"], "xxabcx", "xx", "ab" },
        { ["abc", "bc"], "xabcx", "x", "abc" },          // both end at the same place: the longer wins
        { ["abcd", "bc"], "abcd", "a", "bc" },            // "bc" ends first
        { ["ab", "abc", "bc"], "xbcab", "x", "bc" },
        { ["</s>"], "</s>hello", "", "</s>" },            // at the very start
        { ["\nUser:", "###"], "Hello\nUse### more\nUser:", "Hello\nUse", "###" },
        { ["\nUser:", "###"], "Hello\nUser: hi###", "Hello", "\nUser:" },
        { ["</think>"], "a</thin", "a</thin", null },     // never completed: flushed at the end
        { ["aab"], "aaab", "a", "aab" },                  // overlapping self-prefix
        { ["xyz"], "no stop here", "no stop here", null },
        { [], "anything </s>", "anything </s>", null },
        { ["😀!"], "hi 😀😀!", "hi 😀", "😀!" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Every_chunking_gives_the_same_text_and_stop(string[] stops, string text, string expectedText, string? expectedStop)
    {
        Assert.Equal((expectedText, expectedStop), Reference(stops, text));
        foreach (string[] chunks in Chunkings(text))
            Assert.Equal((expectedText, expectedStop), Run(stops, chunks));
    }

    [Fact]
    public void Holds_back_a_possible_stop_prefix_and_releases_it_when_it_diverges()
    {
        var m = new StopSequenceMatcher(["</think>"]);
        Assert.Equal(new StopSequenceResult("abc", null), m.Append("abc</th"));
        Assert.Equal(4, m.HeldBackLength);
        Assert.Equal(new StopSequenceResult("</thx", null), m.Append("x"));
        Assert.Equal(0, m.HeldBackLength);
        Assert.Equal(new StopSequenceResult("", null), m.Append("</think"));
        var r = m.Append(">after");
        Assert.True(r.Stopped);
        Assert.Equal("", r.Text);
        Assert.Equal("</think>", r.StopSequence);
    }

    [Fact]
    public void Text_passes_through_except_a_possible_stop_prefix()
    {
        var m = new StopSequenceMatcher(["STOP"]);
        Assert.Equal("hello ", m.Append("hello ").Text);
        Assert.Equal("", m.Append("S").Text); // could begin "STOP"
        Assert.Equal("Sx", m.Append("x").Text);
    }

    [Fact]
    public void Append_after_a_match_throws_until_reset()
    {
        var m = new StopSequenceMatcher(["x"]);
        Assert.True(m.Append("ax").Stopped);
        Assert.Throws<InvalidOperationException>(() => m.Append("more"));
        m.Reset();
        Assert.False(m.IsStopped);
        Assert.Equal("ok", m.Append("ok").Text);
    }

    [Fact]
    public void Empty_stop_strings_are_rejected()
    {
        Assert.Throws<ArgumentException>(() => new StopSequenceMatcher(["a", ""]));
    }

    public sealed record Scenario(string[] Stops, string Text, int[] Cuts)
    {
        public override string ToString() =>
            $"stops [{string.Join(", ", Stops.Select(s => $"\"{s}\""))}], text \"{Text}\", cuts [{string.Join(", ", Cuts)}]";
    }

    private static readonly Gen<string> Word =
        from length in Gen.Choose(1, 4)
        from chars in Gen.ArrayOf(Gen.Elements('a', 'b', 'c'), length)
        select new string(chars);

    private static readonly Gen<Scenario> Scenarios =
        from stopCount in Gen.Choose(0, 3)
        from stops in Gen.ArrayOf(Word, stopCount)
        from length in Gen.Choose(0, 30)
        from chars in Gen.ArrayOf(Gen.Elements('a', 'b', 'c', 'x'), length)
        from cutCount in Gen.Choose(0, 8)
        from cuts in Gen.ArrayOf(Gen.Choose(0, length), cutCount)
        select new Scenario(stops, new string(chars), cuts);

    [Fact]
    public void Random_chunking_never_changes_the_result()
    {
        Prop.ForAll(Arb.From(Scenarios), (Scenario s) =>
            {
                int[] cuts = [0, .. s.Cuts.Order(), s.Text.Length];
                string[] chunks = [.. cuts.Zip(cuts.Skip(1), (a, b) => s.Text[a..b])];
                Assert.Equal(Reference(s.Stops, s.Text), Run(s.Stops, chunks));
            })
            .Check(Config.QuickThrowOnFailure.WithMaxTest(2000));
    }
}
