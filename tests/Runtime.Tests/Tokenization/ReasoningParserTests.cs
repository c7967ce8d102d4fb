using DeepSeek.Runtime.Tokenization;
using FsCheck;
using FsCheck.Fluent;
using static DeepSeek.Runtime.Tokenization.ReasoningKind;

namespace DeepSeek.Runtime.Tests.Tokenization;

public class ReasoningParserTests
{
    private static List<ReasoningSegment> Run(IEnumerable<string> chunks, bool startInReasoning = false) => Merge(Emitted(chunks, startInReasoning));

    private static List<ReasoningSegment> Emitted(IEnumerable<string> chunks, bool startInReasoning = false)
    {
        var parser = new ReasoningParser(startInReasoning);
        var all = new List<ReasoningSegment>();
        foreach (var chunk in chunks) all.AddRange(parser.Feed(chunk));
        all.AddRange(parser.Flush());
        return all;
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

    /// <summary>
    /// Random text never throws and parses the same whatever the chunking. (A whole tag can legitimately appear in
    /// the output: text on both sides of an empty think block — "&lt;th&lt;think&gt;&lt;/think&gt;ink&gt;" — joins into
    /// answer text "&lt;think&gt;". An earlier form of this property demanded the opposite and failed at random.)
    /// </summary>
    [Fact]
    public void Random_garbage_never_throws_and_parses_the_same_in_any_chunks()
    {
        Prop.ForAll(Arb.From(StreamChunking.Chunked(Gen.OneOf(Texts, ArbMap.Default.GeneratorFor<string>().Where(s => s is not null)))), ((string Text, int[] Cuts) c) =>
            Run(StreamChunking.Cut(c.Text, c.Cuts)).SequenceEqual(Run([c.Text]))).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void Text_around_an_empty_think_block_is_answer_text_as_written()
    {
        foreach (var cut in Enumerable.Range(0, 23))
        {
            var text = "<th<think></think>ink>";
            var segments = Emitted([text[..cut], text[cut..]]);
            Assert.Equal("<think>", string.Concat(segments.Where(s => s.Kind == Answer).Select(s => s.Text)));
            Assert.DoesNotContain(segments, s => s.Kind == Reasoning && s.Text.Length > 0);
        }
    }
}
