using DeepSeek.Runtime.Tokenization;
using FsCheck;
using FsCheck.Fluent;

namespace DeepSeek.Runtime.Tests.Tokenization;

public class ToolCallParserTests
{
    private const string CallsBegin = "<｜tool▁calls▁begin｜>", CallsEnd = "<｜tool▁calls▁end｜>";
    private const string CallBegin = "<｜tool▁call▁begin｜>", CallEnd = "<｜tool▁call▁end｜>", Sep = "<｜tool▁sep｜>";

    private static string Call(string name, string args, string type = "function") =>
        $"{CallBegin}{type}{Sep}{name}\n```json\n{args}\n```{CallEnd}";

    private static List<ToolCallParseResult> Run(IEnumerable<string> chunks)
    {
        var parser = new ToolCallParser();
        var all = new List<ToolCallParseResult>();
        foreach (var chunk in chunks) all.AddRange(parser.Feed(chunk));
        all.AddRange(parser.Flush());
        var merged = new List<ToolCallParseResult>();
        foreach (var r in all)
        {
            if (r is ToolCallText t && merged.Count > 0 && merged[^1] is ToolCallText p) merged[^1] = new ToolCallText(p.Text + t.Text);
            else merged.Add(r);
        }
        return merged;
    }

    private static readonly string Weather = """{"city": "Paris", "unit": "celsius"}""";
    private static readonly string Nested = """{"query": {"all": ["a", "b"], "filter": {"year": {"gte": 2020}}}, "note": "你好 🌍"}""";

    public static TheoryData<string, ToolCallParseResult[]> Canonical() => new()
    {
        { "Let me check." + CallsBegin + Call("get_weather", Weather) + CallsEnd + "<｜end▁of▁sentence｜>",
          [new ToolCallText("Let me check."), new ToolCallParsed(new ToolCall("get_weather", Weather)), new ToolCallText("<｜end▁of▁sentence｜>")] },
        { CallsBegin + Call("get_weather", Weather) + "\n" + Call("search", Nested) + CallsEnd,
          [new ToolCallParsed(new ToolCall("get_weather", Weather)), new ToolCallParsed(new ToolCall("search", Nested))] },
        { "No tools here, just <｜tool text.", [new ToolCallText("No tools here, just <｜tool text.")] },
        { CallsBegin + Call("f", "{}") + CallsEnd, [new ToolCallParsed(new ToolCall("f", "{}"))] },
    };

    [Theory]
    [MemberData(nameof(Canonical))]
    public void Whole_char_by_char_and_every_split_agree(string text, ToolCallParseResult[] expected)
    {
        Assert.Equal(expected, Run([text]));
        Assert.Equal(expected, Run(StreamChunking.Chars(text)));
        for (int i = 0; i <= text.Length; i++)
            Assert.Equal(expected, Run([text[..i], text[i..]]));
    }

    [Fact]
    public void Parses_what_the_v3_template_renders()
    {
        // The assistant part of a rendered tool-call turn is exactly what the model is trained to emit.
        var format = ChatFormats.FromTokenizerConfig(ChatTestData.Config("deepseek-r1"));
        var calls = new[] { new ToolCall("get_weather", Weather), new ToolCall("search", Nested) };
        string prompt = format.Render([ChatMessage.User("q"), ChatMessage.Assistant("Checking.", calls)], new ChatRenderOptions { IncludeBos = false, AddGenerationPrompt = false });
        string output = prompt[(prompt.IndexOf("<｜Assistant｜>", StringComparison.Ordinal) + "<｜Assistant｜>".Length)..];
        var results = Run([output]);
        Assert.Equal(new ToolCallText("Checking."), results[0]);
        Assert.Equal(calls, results.OfType<ToolCallParsed>().Select(p => p.Call));
        Assert.Empty(results.OfType<ToolCallParseError>());
    }

    [Fact]
    public void Partial_marker_is_never_emitted_as_text()
    {
        var parser = new ToolCallParser();
        Assert.Equal([new ToolCallText("Hi ")], parser.Feed("Hi <｜tool▁ca"));
        Assert.Empty(parser.Feed("lls▁begin｜>" + CallBegin + "function" + Sep + "f\n```json\n{\"a\":"));
        Assert.True(parser.InToolCalls);
        Assert.Equal([new ToolCallParsed(new ToolCall("f", "{\"a\": 1}"))], parser.Feed(" 1}\n```" + CallEnd));
        Assert.Empty(parser.Feed(CallsEnd));
        Assert.False(parser.InToolCalls);
        Assert.Empty(parser.Flush());
    }

    public static TheoryData<string, string> Malformed() => new()
    {
        { CallsBegin + Call("f", "{\"a\": }") + CallsEnd, "not valid JSON" },
        { CallsBegin + Call("f", "[1, 2]") + CallsEnd, "expected an object" },
        { CallsBegin + CallBegin + "function f\n```json\n{}\n```" + CallEnd + CallsEnd, "no <｜tool▁sep｜>" },
        { CallsBegin + CallBegin + "function" + Sep + "\n```json\n{}\n```" + CallEnd + CallsEnd, "empty function name" },
        { CallsBegin + CallBegin + "function" + Sep + "f" + CallEnd + CallsEnd, "no arguments" },
        { CallsBegin + Call("f", "{}"), "not closed" },
        { CallsBegin + CallBegin + "function" + Sep + "f\n```json\n{\"a\"", "not terminated" },
        { CallsBegin + "oops" + Call("f", "{}") + CallsEnd, "unexpected text" },
        { CallsBegin + CallBegin + "function" + Sep + "f\n{}" + CallBegin + "function" + Sep + "g\n{}" + CallEnd + CallsEnd, "not terminated" },
    };

    [Theory]
    [MemberData(nameof(Malformed))]
    public void Malformed_output_is_an_error_result_not_an_exception(string text, string message)
    {
        var results = Run([text]);
        var error = Assert.Single(results.OfType<ToolCallParseError>());
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
        Assert.Equal(results, Run(StreamChunking.Chars(text)));
    }

    [Fact]
    public void Good_calls_around_a_bad_one_survive()
    {
        string text = CallsBegin + Call("a", "{}") + Call("b", "{bad") + Call("c", "{\"x\": [1]}") + CallsEnd + "done";
        var results = Run([text]);
        Assert.Equal(4, results.Count);
        Assert.Equal("a", Assert.IsType<ToolCallParsed>(results[0]).Call.Name);
        Assert.IsType<ToolCallParseError>(results[1]);
        Assert.Equal("c", Assert.IsType<ToolCallParsed>(results[2]).Call.Name);
        Assert.Equal(new ToolCallText("done"), results[3]);
    }

    private static readonly Gen<string> Texts = StreamChunking.Texts(
        CallsBegin, CallsEnd, CallBegin, CallEnd, Sep, "<｜tool▁call", "s▁begin｜>", "<｜", "function", "get_weather", "\n",
        "```json\n", "\n```", "{\"a\": 1}", "{", "}", " ", "text", "你好");

    [Fact]
    public void Random_chunking_never_changes_the_output()
    {
        Prop.ForAll(Arb.From(StreamChunking.Chunked(Texts)), ((string Text, int[] Cuts) c) =>
            Run([c.Text]).SequenceEqual(Run(StreamChunking.Cut(c.Text, c.Cuts)))).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void Random_garbage_never_throws_and_text_never_holds_a_block_marker()
    {
        var garbage = Gen.OneOf(Texts, ArbMap.Default.GeneratorFor<string>().Where(s => s is not null));
        Prop.ForAll(Arb.From(StreamChunking.Chunked(garbage)), ((string Text, int[] Cuts) c) =>
            Run(StreamChunking.Cut(c.Text, c.Cuts)).OfType<ToolCallText>()
                .All(t => !t.Text.Contains(CallsBegin, StringComparison.Ordinal) && !t.Text.Contains(CallBegin, StringComparison.Ordinal)))
            .QuickCheckThrowOnFailure();
    }
}
