using DeepSeek.Runtime.Tokenization;
using FsCheck;
using FsCheck.Fluent;
using static DeepSeek.Runtime.Tokenization.ReasoningKind;

namespace DeepSeek.Runtime.Tests.Tokenization;

public class ReasoningParserTests
{
    private static List<ReasoningSegment> Run(IEnumerable<string> chunks, bool startInReasoning = false)
    {
        var parser = new ReasoningParser(startInReasoning);
        var all = new List<ReasoningSegment>();
        foreach (var chunk in chunks) all.AddRange(parser.Feed(chunk));
        all.AddRange(parser.Flush());
        return Merge(all);
    }

    private static List<ReasoningSegment> Merge(IEnumerable<ReasoningSegment> segments)
    {
        var merged = new List<ReasoningSegment>();
        foreach (var s in segments)
        {
            Assert.NotEqual(0, s.Text.Length);
            if (merged.Count > 0 && merged[^1].Kind == s.Kind) merged[^1] = new(s.Kind, merged[^1].Text + s.Text);
            else merged.Add(s);
        }
        return merged;
    }

    public static TheoryData<string, bool, ReasoningSegment[]> Canonical() => new()
    {
        { "<think>\nLet me think.\n</think>\n\nThe answer is 42.", false, [new(Reasoning, "\nLet me think.\n"), new(Answer, "\n\nThe answer is 42.")] },
        { "Compare 0.11 and 0.8.\n</think>\n\n9.8 is larger.", true, [new(Reasoning, "Compare 0.11 and 0.8.\n"), new(Answer, "\n\n9.8 is larger.")] },
        { "Plain <thi answer with <b>bold</b> and </think> text", false, [new(Answer, "Plain <thi answer with <b>bold</b> and </think> text")] },
        { "<think>a</think>b<think>c</think>d", false, [new(Reasoning, "a"), new(Answer, "b"), new(Reasoning, "c"), new(Answer, "d")] },
        { "still thinking <th", true, [new(Reasoning, "still thinking <th")] },
        { "answer ends with </thin", false, [new(Answer, "answer ends with </thin")] },
        { "<think></think>", false, [] },
        { "数学 🧮 <think>推理</think>答案", false, [new(Answer, "数学 🧮 "), new(Reasoning, "推理"), new(Answer, "答案")] },
    };

    [Theory]
    [MemberData(nameof(Canonical))]
    public void Whole_char_by_char_and_every_split_agree(string text, bool startInReasoning, ReasoningSegment[] expected)
    {
        Assert.Equal(expected, Run([text], startInReasoning));
        Assert.Equal(expected, Run(StreamChunking.Chars(text), startInReasoning));
        for (int i = 0; i <= text.Length; i++)
            Assert.Equal(expected, Run([text[..i], text[i..]], startInReasoning));
    }

    [Fact]
    public void Partial_tag_is_held_back_not_emitted_as_answer()
    {
        var parser = new ReasoningParser();
        Assert.Equal([new ReasoningSegment(Answer, "Hello ")], parser.Feed("Hello <th"));
        Assert.Empty(parser.Feed("in"));
        Assert.Equal([new ReasoningSegment(Reasoning, "x")], parser.Feed("k>x"));
        Assert.Equal(Reasoning, parser.Mode);
        Assert.Empty(parser.Feed("</"));
        Assert.Equal([new ReasoningSegment(Answer, "y")], parser.Feed("think>y"));
        Assert.Empty(parser.Flush());
    }

    [Fact]
    public void ForPrompt_starts_in_reasoning_only_when_the_prompt_left_think_open()
    {
        Assert.Equal(Reasoning, ReasoningParser.ForPrompt("<｜User｜>Hi<｜Assistant｜><think>\n").Mode);
        Assert.Equal(Answer, ReasoningParser.ForPrompt("<｜User｜>Hi<｜Assistant｜>").Mode);
        Assert.Equal(Answer, ReasoningParser.ForPrompt("<think>x</think><｜Assistant｜>").Mode);
        var r1 = ChatFormats.FromTokenizerConfig(ChatTestData.Config("deepseek-r1"));
        Assert.Equal(Reasoning, ReasoningParser.ForPrompt(r1.Render([ChatMessage.User("Hi")])).Mode);
    }

    [Fact]
    public void Flush_resets_for_a_new_stream()
    {
        var parser = new ReasoningParser(startInReasoning: true);
        parser.Feed("r</think>a<th");
        Assert.Equal([new ReasoningSegment(Answer, "<th")], parser.Flush());
        Assert.Equal(Reasoning, parser.Mode);
        Assert.Equal([new ReasoningSegment(Reasoning, "again")], parser.Feed("again"));
    }

    private static readonly Gen<string> Texts = StreamChunking.Texts(
        "<think>", "</think>", "<th", "ink>", "</", "think", ">", "<", "a", "bc", "\n", " ", "数", "🧮", "</think", "<think");

    [Fact]
    public void Random_chunking_never_changes_the_output()
    {
        Prop.ForAll(Arb.From(StreamChunking.Chunked(Texts)), ((string Text, int[] Cuts) c) =>
        {
            foreach (bool start in new[] { false, true })
            {
                var whole = Run([c.Text], start);
                if (!whole.SequenceEqual(Run(StreamChunking.Cut(c.Text, c.Cuts), start))) return false;
                // Lossless: the segments are the input minus the recognised tags.
                if (string.Concat(whole.Select(s => s.Text)).Length > c.Text.Length) return false;
            }
            return true;
        }).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void Random_garbage_never_throws_and_never_leaks_a_whole_tag()
    {
        Prop.ForAll(Arb.From(StreamChunking.Chunked(Gen.OneOf(Texts, ArbMap.Default.GeneratorFor<string>().Where(s => s is not null)))), ((string Text, int[] Cuts) c) =>
        {
            var segments = Run(StreamChunking.Cut(c.Text, c.Cuts));
            return segments.All(s => s.Kind == Answer ? !s.Text.Contains("<think>", StringComparison.Ordinal) : !s.Text.Contains("</think>", StringComparison.Ordinal));
        }).QuickCheckThrowOnFailure();
    }
}
