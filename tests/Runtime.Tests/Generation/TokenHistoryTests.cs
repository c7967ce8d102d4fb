using DeepSeek.Runtime.Generation;

namespace DeepSeek.Runtime.Tests.Generation;

public class TokenHistoryTests
{
    [Fact]
    public void Counts_only_generated_tokens_and_flags_the_whole_context()
    {
        var h = new TokenHistory(10, capacity: 2);
        h.AddPrompt([4, 4, 2]);
        h.AddGenerated(4);
        h.AddGenerated(7);
        h.AddGenerated(7);
        Assert.Equal(3, h.PromptLength);
        Assert.Equal(3, h.GeneratedCount);
        Assert.Equal(6, h.Count);
        Assert.Equal([4, 4, 2, 4, 7, 7], h.Tokens.ToArray());
        Assert.Equal([4, 7, 7], h.Generated.ToArray());
        Assert.Equal(1, h.GeneratedCountOf(4));
        Assert.Equal(2, h.GeneratedCountOf(7));
        Assert.Equal(0, h.GeneratedCountOf(2));
        Assert.True(h.Contains(2));
        Assert.False(h.Contains(3));
        Assert.Equal([4, 2, 7], h.DistinctContext.ToArray());
        Assert.Equal([4, 7], h.DistinctGenerated.ToArray());
    }

    [Fact]
    public void Clear_resets_every_count()
    {
        var h = new TokenHistory(10);
        h.AddPrompt([1, 2]);
        h.AddGenerated(3);
        h.Clear();
        Assert.Equal(0, h.Count);
        Assert.False(h.Contains(1));
        Assert.Equal(0, h.GeneratedCountOf(3));
        Assert.True(h.DistinctContext.IsEmpty);
        h.AddPrompt([5]);
        Assert.Equal(1, h.PromptLength);
    }

    [Fact]
    public void Rejects_bad_ids_and_prompt_after_generation()
    {
        var h = new TokenHistory(10);
        Assert.Throws<ArgumentOutOfRangeException>(() => h.AddGenerated(10));
        Assert.Throws<ArgumentOutOfRangeException>(() => h.AddPrompt([1, -1]));
        Assert.Equal(0, h.Count); // a rejected prompt adds nothing
        h.AddGenerated(1);
        Assert.Throws<InvalidOperationException>(() => h.AddPrompt([2]));
    }
}
