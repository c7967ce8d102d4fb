using System.Text;
using System.Text.Json;
using DeepSeek.Runtime.Tokenization;

namespace DeepSeek.Runtime.Hosting;

/// <summary>
/// Renders tool declarations into the system prompt for DeepSeek chat formats, whose V3/R1 templates ignore <c>tools</c>.
/// The layout follows the "## Tools" section DeepSeek's later templates (V3.1) render: each function as
/// <c>### NAME</c>, its description and its JSON-schema parameters, then the exact call grammar. The grammar given is the
/// one the V3/R1 templates render for assistant tool calls and <see cref="ToolCallParser"/> reads back:
/// <code>
/// &lt;｜tool▁calls▁begin｜&gt;&lt;｜tool▁call▁begin｜&gt;function&lt;｜tool▁sep｜&gt;NAME
/// ```json
/// {ARGUMENTS}
/// ```&lt;｜tool▁call▁end｜&gt;&lt;｜tool▁calls▁end｜&gt;
/// </code>
/// The section is appended to the last system message (a new first system message when there is none), so templates that
/// keep only the last system message still see it. Tool results are rendered by the template itself as tool messages.
/// </summary>
public static class DeepSeekToolPrompt
{
    /// <summary>The tool section for <paramref name="tools"/> (JSON declarations, OpenAI or bare function shape).</summary>
    /// <exception cref="ArgumentException">A declaration is not a JSON object with a non-empty <c>name</c>.</exception>
    public static string Render(IReadOnlyList<string> tools, ToolChoice choice = ToolChoice.Auto, string? requiredToolName = null)
    {
        ArgumentNullException.ThrowIfNull(tools);
        var sb = new StringBuilder("## Tools\nYou have access to the following tools:\n");
        for (int i = 0; i < tools.Count; i++)
        {
            var (name, description, parameters) = Parse(tools[i], i);
            sb.Append("\n### ").Append(name).Append('\n');
            if (!string.IsNullOrWhiteSpace(description)) sb.Append("Description: ").Append(description).Append('\n');
            sb.Append("\nParameters: ").Append(parameters).Append('\n');
        }
        sb.Append("\nIMPORTANT: ALWAYS adhere to this exact format for tool use:\n")
          .Append("<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>FUNCTION_NAME\n```json\n{ARGUMENTS AS A JSON OBJECT}\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>\n")
          .Append("To make several calls, put one <｜tool▁call▁begin｜>…<｜tool▁call▁end｜> after another inside the same block. ")
          .Append("Tool results come back as tool outputs; answer the user from them.");
        if (choice == ToolChoice.Required)
            sb.Append(requiredToolName is null ? "\nYou must call at least one of these tools now." : $"\nYou must call the tool {requiredToolName} now.");
        return sb.ToString();
    }

    /// <summary>
    /// The conversation with the tool section added (see the type's remarks); <paramref name="messages"/> is returned as is
    /// when there are no tools or <paramref name="choice"/> is <see cref="ToolChoice.None"/>.
    /// </summary>
    public static IReadOnlyList<ChatMessage> Apply(IReadOnlyList<ChatMessage> messages, IReadOnlyList<string> tools, ToolChoice choice = ToolChoice.Auto, string? requiredToolName = null)
    {
        ArgumentNullException.ThrowIfNull(messages);
        ArgumentNullException.ThrowIfNull(tools);
        if (tools.Count == 0 || choice == ToolChoice.None) return messages;
        return AppendSystem(messages, Render(tools, choice, requiredToolName));
    }

    /// <summary>Appends <paramref name="text"/> to the last system message (or inserts a first system message).</summary>
    public static IReadOnlyList<ChatMessage> AppendSystem(IReadOnlyList<ChatMessage> messages, string text)
    {
        ArgumentNullException.ThrowIfNull(messages);
        ArgumentNullException.ThrowIfNull(text);
        var list = messages.ToList();
        int last = list.FindLastIndex(m => m?.Role == ChatRole.System);
        if (last < 0) list.Insert(0, ChatMessage.System(text));
        else list[last] = list[last] with { Content = string.IsNullOrEmpty(list[last].Content) ? text : list[last].Content + "\n\n" + text };
        return list;
    }

    private static (string Name, string? Description, string Parameters) Parse(string json, int index)
    {
        try
        {
            using var doc = JsonDocument.Parse(json);
            var root = doc.RootElement;
            if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("function", out var f) && f.ValueKind == JsonValueKind.Object) root = f;
            if (root.ValueKind != JsonValueKind.Object) throw new ArgumentException($"tool {index} is not a JSON object", "tools");
            string? name = root.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String ? n.GetString() : null;
            if (string.IsNullOrWhiteSpace(name)) throw new ArgumentException($"tool {index} has no 'name'", "tools");
            string? description = root.TryGetProperty("description", out var d) && d.ValueKind == JsonValueKind.String ? d.GetString() : null;
            string parameters = root.TryGetProperty("parameters", out var p) ? p.GetRawText() : """{"type":"object","properties":{}}""";
            return (name, description, parameters);
        }
        catch (JsonException e)
        {
            throw new ArgumentException($"tool {index} is not valid JSON: {e.Message}", "tools", e);
        }
    }
}
