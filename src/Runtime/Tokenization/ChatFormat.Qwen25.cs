using System.Text;

namespace DeepSeek.Runtime.Tokenization;

/// <summary>
/// The Qwen2.5 (ChatML) template: <c>&lt;|im_start|&gt;ROLE\nCONTENT&lt;|im_end|&gt;\n</c> turns, a default system prompt,
/// tools listed in the system turn, calls as <c>&lt;tool_call&gt;</c> JSON and consecutive tool outputs grouped into one
/// user turn of <c>&lt;tool_response&gt;</c>s. Tools and call arguments go through the template's <c>tojson</c>, i.e.
/// Python's <c>json.dumps</c> (see <see cref="PythonJson"/>); arguments are passed as parsed objects, transformers' convention.
/// </summary>
internal sealed class Qwen25ChatFormat : IChatFormat
{
    private const string DefaultSystem = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.";
    private const string ToolsHeader = "\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
        + "You are provided with function signatures within <tools></tools> XML tags:\n<tools>";
    private const string ToolsFooter = "\n</tools>\n\nFor each function call, return a json object with function name and arguments "
        + "within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n";

    public string Family => ChatFormats.Qwen25;

    public bool SupportsTools => true;

    public string GenerationPrompt => "<|im_start|>assistant\n";

    public string Render(IReadOnlyList<ChatMessage> messages, ChatRenderOptions? options = null)
    {
        DeepSeekChat.CheckArguments(messages);
        options ??= ChatRenderOptions.Default;
        if (messages.Count == 0)
            throw new ArgumentException("the Qwen2.5 template reads messages[0] and cannot render an empty conversation", nameof(messages));
        var sb = new StringBuilder();
        bool firstIsSystem = messages[0].Role == ChatRole.System;
        if (options.Tools is { Count: > 0 } tools)
        {
            sb.Append("<|im_start|>system\n").Append(firstIsSystem ? DeepSeekChat.Content(messages[0], 0) : DefaultSystem).Append(ToolsHeader);
            foreach (string tool in tools)
                sb.Append('\n').Append(PythonJson.Dumps(tool, "tool definition"));
            sb.Append(ToolsFooter);
        }
        else
        {
            sb.Append("<|im_start|>system\n").Append(firstIsSystem ? DeepSeekChat.Content(messages[0], 0) : DefaultSystem).Append("<|im_end|>\n");
        }
        for (int i = 0; i < messages.Count; i++)
        {
            var m = messages[i];
            bool hasCalls = m.ToolCalls is { Count: > 0 };
            if (m.Role == ChatRole.User || (m.Role == ChatRole.System && i > 0) || (m.Role == ChatRole.Assistant && !hasCalls))
            {
                sb.Append("<|im_start|>").Append(RoleName(m.Role)).Append('\n').Append(DeepSeekChat.Content(m, i)).Append("<|im_end|>\n");
            }
            else if (m.Role == ChatRole.Assistant)
            {
                sb.Append("<|im_start|>assistant");
                if (!string.IsNullOrEmpty(m.Content)) sb.Append('\n').Append(m.Content);
                foreach (var call in m.ToolCalls!)
                {
                    sb.Append("\n<tool_call>\n{\"name\": \"").Append(call.Name).Append("\", \"arguments\": ")
                      .Append(PythonJson.Dumps(call.ArgumentsJson, $"arguments of call '{call.Name}'")).Append("}\n</tool_call>");
                }
                sb.Append("<|im_end|>\n");
            }
            else if (m.Role == ChatRole.Tool)
            {
                if (i == 0 || messages[i - 1].Role != ChatRole.Tool) sb.Append("<|im_start|>user");
                sb.Append("\n<tool_response>\n").Append(DeepSeekChat.Content(m, i)).Append("\n</tool_response>");
                if (i == messages.Count - 1 || messages[i + 1].Role != ChatRole.Tool) sb.Append("<|im_end|>\n");
            }
        }
        if (options.AddGenerationPrompt) sb.Append(GenerationPrompt);
        return sb.ToString();
    }

    private static string RoleName(ChatRole role) => role switch
    {
        ChatRole.System => "system",
        ChatRole.User => "user",
        ChatRole.Assistant => "assistant",
        _ => "tool",
    };
}
