using System.Text.Json;
using DeepSeek.Runtime.Tokenization;

namespace DeepSeek.Runtime.Tests.Tokenization;

/// <summary>The chat-template corpus and the renderings Jinja produced from the real templates (tests/reference/chat/render.py).</summary>
internal static class ChatTestData
{
    public static readonly string[] FamilyDirs = ["deepseek-v3", "deepseek-v3-0324", "deepseek-r1", "deepseek-r1-distill-qwen", "qwen2.5"];

    private static readonly Lazy<string> Root = new(() =>
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "tests", "TestData", "chat");
            if (Directory.Exists(candidate)) return candidate;
        }
        throw new DirectoryNotFoundException("tests/TestData/chat not found above the test binaries");
    });

    public static string Dir => Root.Value;

    public static string Config(string familyDir) => Path.Combine(Dir, familyDir, "tokenizer_config.json");

    public sealed record Conversation(string Name, IReadOnlyList<ChatMessage> Messages, ChatRenderOptions Options);

    private static readonly Lazy<IReadOnlyList<Conversation>> Corpus = new(LoadCorpus);

    public static IReadOnlyList<Conversation> Conversations => Corpus.Value;

    /// <summary>Expected rendering: (text, null) or (null, Jinja's error).</summary>
    public static (string? Text, string? Error) Expected(string familyDir, string name)
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(Dir, "expected", familyDir + ".json")));
        var entry = doc.RootElement.GetProperty(name);
        return entry.TryGetProperty("text", out var t) ? (t.GetString(), null) : (null, entry.GetProperty("error").GetString());
    }

    private static IReadOnlyList<Conversation> LoadCorpus()
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(Dir, "conversations.json")));
        var list = new List<Conversation>();
        foreach (var c in doc.RootElement.EnumerateArray())
        {
            var messages = c.GetProperty("messages").EnumerateArray().Select(ToMessage).ToList();
            var options = new ChatRenderOptions
            {
                AddGenerationPrompt = c.GetProperty("add_generation_prompt").GetBoolean(),
                IncludeBos = !c.TryGetProperty("include_bos", out var b) || b.GetBoolean(),
                Tools = c.TryGetProperty("tools", out var tools) ? tools.EnumerateArray().Select(t => t.GetRawText()).ToList() : null,
            };
            list.Add(new Conversation(c.GetProperty("name").GetString()!, messages, options));
        }
        return list;
    }

    private static ChatMessage ToMessage(JsonElement m)
    {
        var role = m.GetProperty("role").GetString() switch
        {
            "system" => ChatRole.System,
            "user" => ChatRole.User,
            "assistant" => ChatRole.Assistant,
            "tool" => ChatRole.Tool,
            var r => throw new InvalidDataException($"role {r}"),
        };
        string? content = m.GetProperty("content").GetString();
        List<ToolCall>? calls = null;
        if (m.TryGetProperty("tool_calls", out var tc))
        {
            calls = tc.EnumerateArray().Select(c => new ToolCall(
                c.GetProperty("function").GetProperty("name").GetString()!,
                c.GetProperty("function").GetProperty("arguments").GetString()!,
                c.TryGetProperty("id", out var id) ? id.GetString() : null,
                c.GetProperty("type").GetString()!)).ToList();
        }
        string? callId = m.TryGetProperty("tool_call_id", out var tid) ? tid.GetString() : null;
        return new ChatMessage(role, content, calls, callId);
    }
}
