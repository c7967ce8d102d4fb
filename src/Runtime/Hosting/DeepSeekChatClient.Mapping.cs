using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using DeepSeek.Runtime.Generation;
using Microsoft.Extensions.AI;
using Ours = DeepSeek.Runtime.Tokenization;

namespace DeepSeek.Runtime.Hosting;

public sealed partial class DeepSeekChatClient
{
    /// <summary>AI JSON defaults, unindented: arguments and results are rendered into prompts as compact JSON.</summary>
    /// <summary>Prompts are text for the model: non-ASCII stays as written instead of \uXXXX escapes.</summary>
    private static readonly JsonWriterOptions PromptJson = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private static readonly JsonSerializerOptions CompactJson = new(AIJsonUtilities.DefaultOptions) { WriteIndented = false };

    /// <summary>Maps Microsoft.Extensions.AI messages and options to a <see cref="ChatModelRequest"/>.</summary>
    internal static ChatModelRequest ToRequest(IEnumerable<ChatMessage> messages, ChatOptions? options, SamplingOptions defaults)
    {
        var mapped = new List<Ours.ChatMessage>();
        foreach (var m in messages) AddMessage(mapped, m);
        var sampling = defaults;
        var instructions = new List<string>();
        var tools = new List<string>();
        var choice = ToolChoice.Auto;
        string? required = null;
        if (options is not null)
        {
            sampling = sampling with
            {
                Temperature = options.Temperature ?? sampling.Temperature,
                TopP = options.TopP ?? sampling.TopP,
                TopK = options.TopK ?? sampling.TopK,
                MaxTokens = options.MaxOutputTokens ?? sampling.MaxTokens,
                Seed = options.Seed ?? sampling.Seed,
                FrequencyPenalty = options.FrequencyPenalty ?? sampling.FrequencyPenalty,
                PresencePenalty = options.PresencePenalty ?? sampling.PresencePenalty,
                StopSequences = options.StopSequences is { Count: > 0 } stops ? [.. stops] : sampling.StopSequences,
                MinP = options.AdditionalProperties?.TryGetValue("min_p", out double minP) == true ? minP : sampling.MinP,
                RepetitionPenalty = options.AdditionalProperties?.TryGetValue("repetition_penalty", out double rep) == true ? rep : sampling.RepetitionPenalty,
            };
            foreach (var tool in options.Tools ?? [])
            {
                if (tool is not AIFunctionDeclaration f)
                    throw new NotSupportedException($"tool '{tool.Name}' ({tool.GetType().Name}) is not a function; DeepSeek.Runtime only declares functions to the model");
                tools.Add(ToolJson(f));
            }
            switch (options.ToolMode)
            {
                case NoneChatToolMode: choice = ToolChoice.None; break;
                case RequiredChatToolMode r: choice = ToolChoice.Required; required = r.RequiredFunctionName; break;
            }
            if (!string.IsNullOrWhiteSpace(options.Instructions)) instructions.Add(options.Instructions);
            if (options.ResponseFormat is ChatResponseFormatJson json)
            {
                var text = "Respond with a single valid JSON object and nothing else.";
                if (json.Schema is { } schema)
                    text += $"\nThe JSON must conform to this JSON schema{(json.SchemaName is null ? "" : $" ({json.SchemaName})")}:\n{schema.GetRawText()}";
                instructions.Add(text);
            }
        }
        sampling.Validate();
        return new ChatModelRequest(mapped)
        {
            Tools = tools,
            ToolChoice = choice,
            RequiredToolName = required,
            Instructions = instructions.Count == 0 ? null : string.Join("\n\n", instructions),
            Sampling = sampling,
        };
    }

    private static void AddMessage(List<Ours.ChatMessage> output, ChatMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        var text = new StringBuilder();
        var reasoning = new StringBuilder();
        var calls = new List<Ours.ToolCall>();
        foreach (var content in message.Contents)
        {
            switch (content)
            {
                case TextContent t: text.Append(t.Text); break;
                case TextReasoningContent r: reasoning.Append(r.Text); break;
                case FunctionCallContent c:
                    calls.Add(new Ours.ToolCall(c.Name, JsonSerializer.Serialize(c.Arguments ?? new Dictionary<string, object?>(), CompactJson), c.CallId));
                    break;
                case FunctionResultContent r:
                    output.Add(Ours.ChatMessage.Tool(ResultText(r), r.CallId));
                    break;
                case DataContent or UriContent or HostedFileContent:
                    throw new NotSupportedException($"message content of type {content.GetType().Name} is not supported: DeepSeek.Runtime models are text-only");
            }
        }
        var role = message.Role;
        if (role == ChatRole.Tool) return; // its FunctionResultContents were added above
        if (role == ChatRole.System) output.Add(Ours.ChatMessage.System(text.ToString()));
        else if (role == ChatRole.User) output.Add(Ours.ChatMessage.User(text.ToString()));
        else if (role == ChatRole.Assistant)
        {
            if (calls.Count > 0) output.Add(new Ours.ChatMessage(Ours.ChatRole.Assistant, null, calls, Reasoning: reasoning.Length == 0 ? null : reasoning.ToString()));
            else output.Add(new Ours.ChatMessage(Ours.ChatRole.Assistant, text.ToString(), Reasoning: reasoning.Length == 0 ? null : reasoning.ToString()));
        }
        else throw new NotSupportedException($"chat role '{role}' is not supported (system, user, assistant, tool)");
    }

    private static string ResultText(FunctionResultContent result) => result.Result switch
    {
        null when result.Exception is { } e => $"Error: {e.Message}",
        null => "",
        string s => s,
        JsonElement j => j.ValueKind == JsonValueKind.String ? j.GetString()! : Compact(j),
        var other => JsonSerializer.Serialize(other, CompactJson.GetTypeInfo(typeof(object))),
    };

    /// <summary>The element re-written without indentation (function results arrive indented from AI JSON defaults).</summary>
    private static string Compact(JsonElement element)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, PromptJson)) element.WriteTo(w);
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>OpenAI's tool shape: <c>{"type":"function","function":{"name","description","parameters"}}</c>.</summary>
    private static string ToolJson(AIFunctionDeclaration function)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, PromptJson))
        {
            w.WriteStartObject();
            w.WriteString("type", "function");
            w.WriteStartObject("function");
            w.WriteString("name", function.Name);
            if (!string.IsNullOrWhiteSpace(function.Description)) w.WriteString("description", function.Description);
            w.WritePropertyName("parameters");
            if (function.JsonSchema.ValueKind == JsonValueKind.Object) function.JsonSchema.WriteTo(w);
            else
            {
                w.WriteStartObject();
                w.WriteString("type", "object");
                w.WriteStartObject("properties");
                w.WriteEndObject();
                w.WriteEndObject();
            }
            w.WriteEndObject();
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }
}
