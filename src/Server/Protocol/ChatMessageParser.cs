using System.Text;
using System.Text.Json;
using Microsoft.Extensions.AI;
using static DeepSeek.Server.Protocol.JsonFields;

namespace DeepSeek.Server.Protocol;

/// <summary>
/// <c>messages[]</c> → <see cref="ChatMessage"/>s. System (and <c>developer</c>, its newer name) and user
/// messages carry <see cref="TextContent"/>; assistant messages carry <c>reasoning_content</c> as
/// <see cref="TextReasoningContent"/> first, then text, then one <see cref="FunctionCallContent"/> per
/// <c>tool_calls</c> entry; tool messages become one <see cref="FunctionResultContent"/> keyed by
/// <c>tool_call_id</c>.
/// </summary>
internal static class ChatMessageParser
{
    public static List<ChatMessage> Parse(JsonElement body)
    {
        if (!TryGet(body, "messages", out var messages))
            throw OpenAIRequestException.Invalid("Missing required parameter: 'messages'.", "messages");
        if (messages.ValueKind != JsonValueKind.Array) throw WrongType("messages", "an array", messages);
        var list = new List<ChatMessage>(messages.GetArrayLength());
        var i = 0;
        foreach (var message in messages.EnumerateArray())
            list.Add(ParseMessage(message, $"messages[{i++}]"));
        if (list.Count == 0)
            throw OpenAIRequestException.Invalid("'messages' must contain at least one message.", "messages", "empty_array");
        return list;
    }

    private static ChatMessage ParseMessage(JsonElement message, string path)
    {
        if (message.ValueKind != JsonValueKind.Object) throw WrongType(path, "an object", message);
        var role = RequiredString(message, "role", path + ".role");
        var name = String(message, "name", path + ".name");
        var contents = new List<AIContent>();
        ChatRole chatRole;
        switch (role)
        {
            case "system" or "developer":
                chatRole = ChatRole.System;
                AddText(contents, RequiredText(message, path));
                break;
            case "user":
                chatRole = ChatRole.User;
                AddText(contents, RequiredText(message, path));
                break;
            case "assistant":
                chatRole = ChatRole.Assistant;
                if (String(message, "reasoning_content", path + ".reasoning_content") is { Length: > 0 } reasoning)
                    contents.Add(new TextReasoningContent(reasoning));
                AddText(contents, Text(message, path));
                AddToolCalls(contents, message, path);
                break;
            case "tool":
                chatRole = ChatRole.Tool;
                var callId = String(message, "tool_call_id", path + ".tool_call_id");
                if (string.IsNullOrEmpty(callId))
                    throw OpenAIRequestException.Invalid($"Missing required parameter: '{path}.tool_call_id'.", path + ".tool_call_id");
                contents.Add(new FunctionResultContent(callId, Text(message, path) ?? ""));
                break;
            default:
                throw OpenAIRequestException.Invalid(
                    $"Invalid value '{role}' for '{path}.role': expected 'system', 'developer', 'user', 'assistant' or 'tool'.", path + ".role", "invalid_value");
        }
        return new ChatMessage(chatRole, contents) { AuthorName = name };
    }

    private static void AddText(List<AIContent> contents, string? text)
    {
        if (!string.IsNullOrEmpty(text)) contents.Add(new TextContent(text));
    }

    private static string RequiredText(JsonElement message, string path) =>
        Text(message, path) ?? throw OpenAIRequestException.Invalid($"Missing required parameter: '{path}.content'.", path + ".content");

    /// <summary><c>content</c> as a string, or an array of <c>{"type":"text","text":...}</c> parts joined in order.</summary>
    private static string? Text(JsonElement message, string path)
    {
        if (!TryGet(message, "content", out var content)) return null;
        if (content.ValueKind == JsonValueKind.String) return content.GetString();
        if (content.ValueKind != JsonValueKind.Array) throw WrongType(path + ".content", "a string or an array of content parts", content);
        var text = new StringBuilder();
        var i = 0;
        foreach (var part in content.EnumerateArray())
        {
            var partPath = $"{path}.content[{i++}]";
            if (part.ValueKind != JsonValueKind.Object) throw WrongType(partPath, "an object", part);
            var type = RequiredString(part, "type", partPath + ".type");
            if (type != "text")
                throw OpenAIRequestException.Invalid($"Content part type '{type}' is not supported: this server takes text only.", partPath + ".type", "unsupported_value");
            text.Append(RequiredString(part, "text", partPath + ".text"));
        }
        return text.ToString();
    }

    private static void AddToolCalls(List<AIContent> contents, JsonElement message, string path)
    {
        if (!TryGet(message, "tool_calls", out var calls)) return;
        if (calls.ValueKind != JsonValueKind.Array) throw WrongType(path + ".tool_calls", "an array", calls);
        var i = 0;
        foreach (var call in calls.EnumerateArray())
        {
            var callPath = $"{path}.tool_calls[{i++}]";
            if (call.ValueKind != JsonValueKind.Object) throw WrongType(callPath, "an object", call);
            var id = RequiredString(call, "id", callPath + ".id");
            if (String(call, "type", callPath + ".type") is { } type && type != "function")
                throw OpenAIRequestException.Invalid($"Invalid value '{type}' for '{callPath}.type': only 'function' tool calls are supported.", callPath + ".type", "invalid_value");
            if (!TryGet(call, "function", out var function) || function.ValueKind != JsonValueKind.Object)
                throw OpenAIRequestException.Invalid($"Missing required parameter: '{callPath}.function'.", callPath + ".function");
            var name = RequiredString(function, "name", callPath + ".function.name");
            var arguments = String(function, "arguments", callPath + ".function.arguments");
            contents.Add(new FunctionCallContent(id, name, ParseArguments(arguments, callPath + ".function.arguments")));
        }
    }

    /// <summary>OpenAI sends arguments as a JSON-encoded object; values stay <see cref="JsonElement"/>s.</summary>
    private static Dictionary<string, object?> ParseArguments(string? json, string path)
    {
        var arguments = new Dictionary<string, object?>(StringComparer.Ordinal);
        if (string.IsNullOrWhiteSpace(json)) return arguments;
        JsonElement root;
        try
        {
            using var document = JsonDocument.Parse(json);
            root = document.RootElement.Clone();
        }
        catch (JsonException e)
        {
            throw OpenAIRequestException.Invalid($"'{path}' is not valid JSON: {e.Message}", path, "invalid_value");
        }
        if (root.ValueKind != JsonValueKind.Object)
            throw OpenAIRequestException.Invalid($"'{path}' must encode a JSON object.", path, "invalid_value");
        foreach (var property in root.EnumerateObject()) arguments[property.Name] = property.Value;
        return arguments;
    }
}
