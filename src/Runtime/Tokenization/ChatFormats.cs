using System.Text.Json;

namespace DeepSeek.Runtime.Tokenization;

/// <summary>
/// Picks the <see cref="IChatFormat"/> for a checkpoint from its <c>tokenizer_config.json</c>: the <c>chat_template</c> text is
/// recognised by fingerprints (its special tokens and the constructs that distinguish one DeepSeek template from the next),
/// and a template that matches no supported family is refused with a <see cref="ChatTemplateException"/> rather than rendered
/// approximately.
/// </summary>
public static class ChatFormats
{
    /// <summary>The original DeepSeek-V3 template.</summary>
    public const string DeepSeekV3 = "deepseek-v3";

    /// <summary>DeepSeek-V3-0324's template: R1's grammar, plain <c>&lt;｜Assistant｜&gt;</c> generation prompt.</summary>
    public const string DeepSeekV3_0324 = "deepseek-v3-0324";

    /// <summary>DeepSeek-R1: generation prompt opens <c>&lt;think&gt;\n</c>, earlier reasoning is stripped.</summary>
    public const string DeepSeekR1 = "deepseek-r1";

    /// <summary>The first DeepSeek-R1-Distill (Qwen/Llama) template: V3's grammar, last system message only, reasoning stripped.</summary>
    public const string DeepSeekR1Distill = "deepseek-r1-distill";

    /// <summary>Qwen2.5 (ChatML with tools).</summary>
    public const string Qwen25 = "qwen2.5";

    /// <summary>The supported families.</summary>
    public static IReadOnlyList<string> Families { get; } = [DeepSeekV3, DeepSeekV3_0324, DeepSeekR1, DeepSeekR1Distill, Qwen25];

    private static string Supported => string.Join(", ", Families);

    /// <summary>Reads <c>chat_template</c>, <c>bos_token</c> and <c>eos_token</c> from a <c>tokenizer_config.json</c> (or the folder holding one).</summary>
    /// <exception cref="ChatTemplateException">The file has no usable template or its template is of no supported family.</exception>
    public static IChatFormat FromTokenizerConfig(string tokenizerConfigPath)
    {
        ArgumentNullException.ThrowIfNull(tokenizerConfigPath);
        string path = Directory.Exists(tokenizerConfigPath) ? Path.Combine(tokenizerConfigPath, "tokenizer_config.json") : tokenizerConfigPath;
        string? template, bos, eos;
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw new ChatTemplateException("tokenizer config is not a JSON object", path);
            template = ReadTemplate(root, path);
            bos = ReadToken(root, "bos_token", path);
            eos = ReadToken(root, "eos_token", path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException)
        {
            throw new ChatTemplateException($"cannot read tokenizer config: {e.Message}", path, e);
        }
        return Recognise(template, bos, eos, path);
    }

    /// <summary>Recognises a <c>chat_template</c> text; <paramref name="bosToken"/> is what the template renders as <c>bos_token</c>.</summary>
    /// <exception cref="ChatTemplateException">The template is of no supported family.</exception>
    public static IChatFormat FromTemplate(string template, string? bosToken, string? eosToken = null)
    {
        ArgumentNullException.ThrowIfNull(template);
        return Recognise(template, bosToken, eosToken, file: null);
    }

    private static IChatFormat Recognise(string template, string? bos, string? eos, string? file)
    {
        _ = eos; // none of the supported templates reads eos_token: they spell <｜end▁of▁sentence｜> out
        // Some copies keep '\n' escapes inside Jinja string literals, others real newlines; both render the same.
        string t = template.Replace("\\n", "\n", StringComparison.Ordinal);
        if (Has(t, "<|im_start|>") && Has(t, "<tool_response>") && Has(t, "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."))
            return new Qwen25ChatFormat();
        if (Has(t, DeepSeekTokens.User) && Has(t, DeepSeekTokens.Assistant) && Has(t, DeepSeekTokens.ToolCallsBegin))
        {
            string[] unsupported = ["thinking", "tools", "reasoning_content", "is_last_user", "tojson"];
            string? found = unsupported.FirstOrDefault(u => Has(t, u));
            if (found is null)
            {
                bool current = Has(t, "'tool_calls' in message") && Has(t, "'tool_calls' not in message");
                bool original = Has(t, "message['content'] is none %}") && !current;
                bool stripThink = Has(t, "split('</think>')[-1]");
                bool concatenate = Has(t, "is_first_sp");
                bool thinkPrompt = Has(t, "{{'<｜Assistant｜><think>\n'}}");
                bool plainPrompt = Has(t, "{{'<｜Assistant｜>'}}{% endif %}");
                string prompt = thinkPrompt ? DeepSeekTokens.Assistant + "<think>\n" : DeepSeekTokens.Assistant;
                bool outputsNewline = Has(t, "{{'\n<｜tool▁output▁begin｜>'");
                string b = bos ?? "";
                if (current && stripThink && concatenate && !outputsNewline && (thinkPrompt ^ plainPrompt))
                    return new DeepSeekR1ChatFormat(thinkPrompt ? DeepSeekR1 : DeepSeekV3_0324, b, prompt);
                if (original && outputsNewline && (thinkPrompt ^ plainPrompt))
                {
                    if (concatenate && !stripThink && plainPrompt)
                        return new DeepSeekV3ChatFormat(DeepSeekV3, b, concatenateSystems: true, stripThink: false, prompt);
                    if (!concatenate && stripThink)
                        return new DeepSeekV3ChatFormat(DeepSeekR1Distill, b, concatenateSystems: false, stripThink: true, prompt);
                }
            }
            throw new ChatTemplateException(
                $"DeepSeek-style chat_template of an unsupported variant{(found is null ? "" : $" (it uses '{found}')")}; supported families: {Supported}", file);
        }
        throw new ChatTemplateException($"unrecognised chat_template; supported families: {Supported}", file);
    }

    private static bool Has(string template, string marker) => template.Contains(marker, StringComparison.Ordinal);

    private static string ReadTemplate(JsonElement root, string path)
    {
        if (!root.TryGetProperty("chat_template", out var t) || t.ValueKind == JsonValueKind.Null)
            throw new ChatTemplateException($"no chat_template; supported families: {Supported}", path);
        if (t.ValueKind == JsonValueKind.String) return t.GetString()!;
        if (t.ValueKind == JsonValueKind.Array)
        {
            // transformers' named templates: [{"name": "default", "template": "..."}, ...]
            foreach (var item in t.EnumerateArray())
            {
                if (item.ValueKind == JsonValueKind.Object
                    && item.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String && n.GetString() == "default"
                    && item.TryGetProperty("template", out var body) && body.ValueKind == JsonValueKind.String)
                    return body.GetString()!;
            }
            throw new ChatTemplateException("chat_template is a list without a 'default' entry", path);
        }
        throw new ChatTemplateException($"chat_template is a JSON {t.ValueKind}, expected a string", path);
    }

    private static string? ReadToken(JsonElement root, string key, string path)
    {
        if (!root.TryGetProperty(key, out var v)) return null;
        return v.ValueKind switch
        {
            JsonValueKind.Null => null,
            JsonValueKind.String => v.GetString(),
            JsonValueKind.Object when v.TryGetProperty("content", out var c) && c.ValueKind == JsonValueKind.String => c.GetString(),
            _ => throw new ChatTemplateException($"{key} is neither a string nor an AddedToken object", path),
        };
    }
}
