using DeepSeek.Runtime.Tokenization;

namespace DeepSeek.Runtime.Tests.Tokenization;

public class ChatFormatsTests
{
    [Theory]
    [InlineData("deepseek-v3", ChatFormats.DeepSeekV3, "<｜Assistant｜>", false)]
    [InlineData("deepseek-v3-0324", ChatFormats.DeepSeekV3_0324, "<｜Assistant｜>", false)]
    [InlineData("deepseek-r1", ChatFormats.DeepSeekR1, "<｜Assistant｜><think>\n", false)]
    [InlineData("deepseek-r1-distill-qwen", ChatFormats.DeepSeekR1Distill, "<｜Assistant｜>", false)]
    [InlineData("qwen2.5", ChatFormats.Qwen25, "<|im_start|>assistant\n", true)]
    public void Recognises_each_shipped_template(string dir, string family, string generationPrompt, bool tools)
    {
        var format = ChatFormats.FromTokenizerConfig(ChatTestData.Config(dir));
        Assert.Equal(family, format.Family);
        Assert.Equal(generationPrompt, format.GenerationPrompt);
        Assert.Equal(tools, format.SupportsTools);
        Assert.Contains(family, ChatFormats.Families);
    }

    [Fact]
    public void Folder_path_finds_tokenizer_config()
    {
        var format = ChatFormats.FromTokenizerConfig(Path.Combine(ChatTestData.Dir, "deepseek-r1"));
        Assert.Equal(ChatFormats.DeepSeekR1, format.Family);
        Assert.EndsWith("<｜User｜>Hi<｜Assistant｜><think>\n", format.Render([ChatMessage.User("Hi")]), StringComparison.Ordinal);
    }

    [Fact]
    public void Unknown_template_names_file_and_families()
    {
        using var dir = new TempDir();
        string path = dir.File("tokenizer_config.json");
        File.WriteAllText(path, """{"chat_template": "{% for m in messages %}[{{ m.role }}] {{ m.content }}{% endfor %}", "bos_token": "<s>"}""");
        var e = Assert.Throws<ChatTemplateException>(() => ChatFormats.FromTokenizerConfig(path));
        Assert.Equal(path, e.File);
        Assert.Contains(path, e.Message, StringComparison.Ordinal);
        foreach (var family in ChatFormats.Families)
            Assert.Contains(family, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Newer_deepseek_variant_is_refused_not_approximated()
    {
        string r1 = File.ReadAllText(ChatTestData.Config("deepseek-r1"));
        string template = System.Text.Json.JsonDocument.Parse(r1).RootElement.GetProperty("chat_template").GetString()!;
        string withThinkingSwitch = template.Replace("{% endif %}", "{% if thinking %}x{% endif %}{% endif %}", StringComparison.Ordinal);
        var e = Assert.Throws<ChatTemplateException>(() => ChatFormats.FromTemplate(withThinkingSwitch, "<s>"));
        Assert.Contains("thinking", e.Message, StringComparison.Ordinal);
        Assert.Equal(ChatFormats.DeepSeekR1, ChatFormats.FromTemplate(template, "<s>").Family);
    }

    [Theory]
    [InlineData("{}")]
    [InlineData("""{"bos_token": "<s>"}""")]
    [InlineData("""{"chat_template": 5}""")]
    [InlineData("""{"chat_template": [{"name": "tool_use", "template": "x"}]}""")]
    [InlineData("[1, 2]")]
    [InlineData("{not json")]
    public void Bad_configs_are_typed_errors(string json)
    {
        using var dir = new TempDir();
        string path = dir.File("tokenizer_config.json");
        File.WriteAllText(path, json);
        var e = Assert.Throws<ChatTemplateException>(() => ChatFormats.FromTokenizerConfig(path));
        Assert.Equal(path, e.File);
    }

    [Fact]
    public void Named_default_template_and_string_bos_are_read()
    {
        using var dir = new TempDir();
        string template = System.Text.Json.JsonDocument.Parse(File.ReadAllText(ChatTestData.Config("deepseek-v3"))).RootElement.GetProperty("chat_template").GetString()!;
        string path = dir.File("tokenizer_config.json");
        File.WriteAllText(path, System.Text.Json.JsonSerializer.Serialize(new { bos_token = "<B>", chat_template = new[] { new { name = "default", template } } }));
        var format = ChatFormats.FromTokenizerConfig(path);
        Assert.Equal("<B><｜User｜>x<｜Assistant｜>", format.Render([ChatMessage.User("x")]));
        Assert.Equal("<｜User｜>x", format.Render([ChatMessage.User("x")], new ChatRenderOptions { IncludeBos = false, AddGenerationPrompt = false }));
    }

    [Fact]
    public void Missing_file_is_a_typed_error()
    {
        using var dir = new TempDir();
        var e = Assert.Throws<ChatTemplateException>(() => ChatFormats.FromTokenizerConfig(dir.File("nope.json")));
        Assert.Contains("nope.json", e.Message, StringComparison.Ordinal);
    }
}
