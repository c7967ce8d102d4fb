using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Extensions.AI;
using static DeepSeek.Server.Protocol.JsonFields;

namespace DeepSeek.Server.Protocol;

/// <summary>
/// Turns an OpenAI chat-completions body into <see cref="ChatMessage"/>s and <see cref="ChatOptions"/>, checking
/// every field the way api.openai.com does (ranges, types, <c>n</c> = 1). Unknown fields are ignored, as is
/// <c>user</c>.
/// </summary>
internal static partial class ChatRequestParser
{
    public static ChatCompletionRequest Parse(JsonElement body)
    {
        if (body.ValueKind != JsonValueKind.Object)
            throw OpenAIRequestException.Invalid("The request body must be a JSON object.");

        var model = RequiredString(body, "model", "model");
        var messages = ChatMessageParser.Parse(body);
        var options = new ChatOptions
        {
            ModelId = model,
            Temperature = (float?)Number(body, "temperature", 0, 2),
            TopP = (float?)Number(body, "top_p", 0, 1, minExclusive: true),
            FrequencyPenalty = (float?)Number(body, "frequency_penalty", -2, 2),
            PresencePenalty = (float?)Number(body, "presence_penalty", -2, 2),
            Seed = Integer(body, "seed", long.MinValue),
            MaxOutputTokens = MaxTokens(body),
            StopSequences = Stop(body),
            AllowMultipleToolCalls = Bool(body, "parallel_tool_calls", "parallel_tool_calls"),
            ResponseFormat = ResponseFormat(body),
        };
        // top_k is not OpenAI's, but DeepSeek-style servers (vLLM, SGLang) take it; 0 or -1 means off there too.
        if (Integer(body, "top_k", -1) is long topK && topK > 0) options.TopK = (int)Math.Min(topK, int.MaxValue);
        ParseTools(body, options);

        if (Integer(body, "n", 1) is > 1)
            throw OpenAIRequestException.Invalid("Only n = 1 is supported.", "n", "unsupported_value");
        if (Bool(body, "logprobs", "logprobs") == true || TryGet(body, "top_logprobs", out _))
            throw OpenAIRequestException.Invalid("logprobs are not supported by this server.", "logprobs", "unsupported_parameter");
        if (TryGet(body, "logit_bias", out var bias) && bias.ValueKind == JsonValueKind.Object && bias.EnumerateObject().Any())
            throw OpenAIRequestException.Invalid("logit_bias is not supported by this server.", "logit_bias", "unsupported_parameter");

        var stream = Bool(body, "stream", "stream") ?? false;
        var includeUsage = TryGet(body, "stream_options", out var streamOptions)
            && Bool(streamOptions, "include_usage", "stream_options.include_usage") == true;
        return new ChatCompletionRequest(model, messages, options, stream, includeUsage);
    }

    /// <summary><c>max_completion_tokens</c> (current name) wins over <c>max_tokens</c> (deprecated, still sent by many clients).</summary>
    private static int? MaxTokens(JsonElement body)
    {
        var legacy = Integer(body, "max_tokens", 1);
        var current = Integer(body, "max_completion_tokens", 1);
        return (current ?? legacy) is { } n ? (int)Math.Min(n, int.MaxValue) : null;
    }

    internal static List<string>? Stop(JsonElement body)
    {
        if (!TryGet(body, "stop", out var stop)) return null;
        if (stop.ValueKind == JsonValueKind.String) return stop.GetString() is { Length: > 0 } s ? [s] : null;
        if (stop.ValueKind != JsonValueKind.Array) throw WrongType("stop", "a string or an array of strings", stop);
        var list = new List<string>();
        var i = 0;
        foreach (var item in stop.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.String) throw WrongType($"stop[{i}]", "a string", item);
            if (item.GetString() is { Length: > 0 } s) list.Add(s);
            i++;
        }
        return list.Count > 0 ? list : null;
    }

    private static ChatResponseFormat? ResponseFormat(JsonElement body)
    {
        if (!TryGet(body, "response_format", out var format)) return null;
        if (format.ValueKind != JsonValueKind.Object) throw WrongType("response_format", "an object", format);
        switch (RequiredString(format, "type", "response_format.type"))
        {
            case "text": return ChatResponseFormat.Text;
            case "json_object": return ChatResponseFormat.Json;
            case "json_schema":
                if (!TryGet(format, "json_schema", out var spec) || spec.ValueKind != JsonValueKind.Object)
                    throw OpenAIRequestException.Invalid("Missing required parameter: 'response_format.json_schema'.", "response_format.json_schema");
                var name = RequiredString(spec, "name", "response_format.json_schema.name");
                if (!TryGet(spec, "schema", out var schema) || schema.ValueKind != JsonValueKind.Object)
                    throw OpenAIRequestException.Invalid("'response_format.json_schema.schema' must be a JSON schema object.", "response_format.json_schema.schema");
                return ChatResponseFormat.ForJsonSchema(schema.Clone(), name, String(spec, "description", "response_format.json_schema.description"));
            case var other:
                throw OpenAIRequestException.Invalid($"Invalid value '{other}' for 'response_format.type': expected 'text', 'json_object' or 'json_schema'.", "response_format.type", "invalid_value");
        }
    }

    private static void ParseTools(JsonElement body, ChatOptions options)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        if (TryGet(body, "tools", out var tools))
        {
            if (tools.ValueKind != JsonValueKind.Array) throw WrongType("tools", "an array", tools);
            var list = new List<AITool>();
            var i = 0;
            foreach (var tool in tools.EnumerateArray())
            {
                var path = $"tools[{i++}]";
                if (tool.ValueKind != JsonValueKind.Object) throw WrongType(path, "an object", tool);
                var type = RequiredString(tool, "type", path + ".type");
                if (type != "function")
                    throw OpenAIRequestException.Invalid($"Invalid value '{type}' for '{path}.type': only 'function' tools are supported.", path + ".type", "invalid_value");
                if (!TryGet(tool, "function", out var function) || function.ValueKind != JsonValueKind.Object)
                    throw OpenAIRequestException.Invalid($"Missing required parameter: '{path}.function'.", path + ".function");
                var name = RequiredString(function, "name", path + ".function.name");
                if (!FunctionName().IsMatch(name))
                    throw OpenAIRequestException.Invalid($"Invalid '{path}.function.name': '{name}' must be 1-64 letters, digits, '_' or '-'.", path + ".function.name", "invalid_value");
                if (!names.Add(name))
                    throw OpenAIRequestException.Invalid($"Duplicate function name '{name}' in 'tools'.", path + ".function.name", "invalid_value");
                var description = String(function, "description", path + ".function.description");
                var schema = TryGet(function, "parameters", out var parameters) ? parameters.Clone() : EmptyObjectSchema;
                if (schema.ValueKind != JsonValueKind.Object) throw WrongType(path + ".function.parameters", "a JSON schema object", schema);
                list.Add(AIFunctionFactory.CreateDeclaration(name, description, schema));
            }
            if (list.Count > 0) options.Tools = list;
        }
        options.ToolMode = ToolMode(body, names);
    }

    private static ChatToolMode? ToolMode(JsonElement body, HashSet<string> toolNames)
    {
        if (!TryGet(body, "tool_choice", out var choice)) return null;
        if (choice.ValueKind == JsonValueKind.String)
        {
            return choice.GetString() switch
            {
                "none" => ChatToolMode.None,
                "auto" => ChatToolMode.Auto,
                "required" when toolNames.Count > 0 => ChatToolMode.RequireAny,
                "required" => throw OpenAIRequestException.Invalid("'tool_choice' is 'required' but no 'tools' were given.", "tool_choice", "invalid_value"),
                var other => throw OpenAIRequestException.Invalid($"Invalid value '{other}' for 'tool_choice': expected 'none', 'auto', 'required' or a function.", "tool_choice", "invalid_value"),
            };
        }
        if (choice.ValueKind != JsonValueKind.Object) throw WrongType("tool_choice", "a string or an object", choice);
        if (RequiredString(choice, "type", "tool_choice.type") != "function" || !TryGet(choice, "function", out var function))
            throw OpenAIRequestException.Invalid("'tool_choice' must be {\"type\":\"function\",\"function\":{\"name\":...}}.", "tool_choice", "invalid_value");
        var name = RequiredString(function, "name", "tool_choice.function.name");
        if (!toolNames.Contains(name))
            throw OpenAIRequestException.Invalid($"'tool_choice' names function '{name}', which is not in 'tools'.", "tool_choice.function.name", "invalid_value");
        return ChatToolMode.RequireSpecific(name);
    }

    private static readonly JsonElement EmptyObjectSchema = JsonDocument.Parse("""{"type":"object","properties":{}}""").RootElement.Clone();

    [GeneratedRegex("^[A-Za-z0-9_-]{1,64}$")]
    private static partial Regex FunctionName();
}
