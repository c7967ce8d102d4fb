using DeepSeek.Runtime.Tokenization;

namespace DeepSeek.Runtime.Tests.Tokenization;

/// <summary>Every corpus conversation renders byte-for-byte as Jinja rendered it from the real template, or is refused where Jinja failed.</summary>
public class ChatFormatRenderingTests
{
    public static TheoryData<string, string> Cases()
    {
        var data = new TheoryData<string, string>();
        foreach (var family in ChatTestData.FamilyDirs)
            foreach (var c in ChatTestData.Conversations)
                data.Add(family, c.Name);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Renders_like_jinja(string familyDir, string conversation)
    {
        var format = ChatFormats.FromTokenizerConfig(ChatTestData.Config(familyDir));
        var c = ChatTestData.Conversations.Single(x => x.Name == conversation);
        var (text, error) = ChatTestData.Expected(familyDir, conversation);
        if (error is not null)
        {
            var e = Assert.Throws<ArgumentException>(() => format.Render(c.Messages, c.Options));
            Assert.False(string.IsNullOrWhiteSpace(e.Message));
            return;
        }
        string actual = format.Render(c.Messages, c.Options);
        if (actual != text)
        {
            int at = Enumerable.Range(0, Math.Min(actual.Length, text!.Length)).FirstOrDefault(i => actual[i] != text[i], Math.Min(actual.Length, text.Length));
            Assert.Fail($"{familyDir}/{conversation}: first difference at {at}\nexpected: {text[at..Math.Min(text.Length, at + 80)]}\nactual:   {actual[at..Math.Min(actual.Length, at + 80)]}");
        }
    }

    [Fact]
    public void Corpus_is_large_and_covers_errors()
    {
        Assert.True(ChatTestData.Conversations.Count >= 30);
        int refused = ChatTestData.FamilyDirs.Sum(f => ChatTestData.Conversations.Count(c => ChatTestData.Expected(f, c.Name).Error is not null));
        Assert.InRange(refused, 1, ChatTestData.FamilyDirs.Length * 4);
    }
}
