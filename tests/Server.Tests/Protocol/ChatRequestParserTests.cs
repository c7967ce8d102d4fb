using System.Text.Json;
using DeepSeek.Server.Protocol;
using Microsoft.Extensions.AI;

namespace DeepSeek.Server.Tests.Protocol;

public class ChatRequestParserTests
{
    private static ChatCompletionRequest Parse(string json)
    {
        using var document = JsonDocument.Parse(json);
        return ChatRequestParser.Parse(document.RootElement);
    }

    private static OpenAIRequestException Rejects(string json) => Assert.Throws<OpenAIRequestException>(() => Parse(json));

    [Fact]
    public void Maps_every_sampling_field_to_ChatOptions()
    {
        var r = Parse("""
            {"model":"m","messages":[{"role":"user","content":"hi"}],"temperature":0.6,"top_p":0.95,"top_k":40,
             "max_tokens":64,"stop":["\n\n","END"],"seed":7,"frequency_penalty":0.5,"presence_penalty":-0.25,
             "parallel_tool_calls":false,"response_format":{"type":"json_object"},"user":"someone","n":1,
             "stream":true,"stream_options":{"include_usage":true}}
            """);
        Assert.Equal("m", r.Model);
        Assert.Equal("m", r.Options.ModelId);
        Assert.Equal(0.6f, r.Options.Temperature);
        Assert.Equal(0.95f, r.Options.TopP);
        Assert.Equal(40, r.Options.TopK);
        Assert.Equal(64, r.Options.MaxOutputTokens);
        Assert.Equal(["\n\n", "END"], r.Options.StopSequences!);
        Assert.Equal(7L, r.Options.Seed);
        Assert.Equal(0.5f, r.Options.FrequencyPenalty);
        Assert.Equal(-0.25f, r.Options.PresencePenalty);
        Assert.False(r.Options.AllowMultipleToolCalls);
        Assert.IsType<ChatResponseFormatJson>(r.Options.ResponseFormat);
        Assert.True(r.Stream);
        Assert.True(r.IncludeUsage);
    }

    [Fact]
    public void Leaves_unset_fields_null_and_stream_off()
    {
        var r = Parse("""{"model":"m","messages":[{"role":"user","content":"hi"}],"temperature":null,"top_k":0}""");
        Assert.Null(r.Options.Temperature);
        Assert.Null(r.Options.TopP);
        Assert.Null(r.Options.TopK);
        Assert.Null(r.Options.MaxOutputTokens);
        Assert.Null(r.Options.StopSequences);
        Assert.Null(r.Options.Tools);
        Assert.Null(r.Options.ToolMode);
        Assert.Null(r.Options.ResponseFormat);
        Assert.False(r.Stream);
        Assert.False(r.IncludeUsage);
    }

    [Fact]
    public void Max_completion_tokens_wins_over_max_tokens_and_a_single_stop_string_is_a_list()
    {
        var r = Parse("""{"model":"m","messages":[{"role":"user","content":"hi"}],"max_tokens":10,"max_completion_tokens":20,"stop":"###"}""");
        Assert.Equal(20, r.Options.MaxOutputTokens);
        Assert.Equal(["###"], r.Options.StopSequences!);
    }

    [Fact]
    public void Maps_each_role_and_its_contents()
    {
        var r = Parse("""
            {"model":"m","messages":[
              {"role":"system","content":"be brief"},
              {"role":"developer","content":[{"type":"text","text":"dev "},{"type":"text","text":"rules"}]},
              {"role":"user","name":"ann","content":[{"type":"text","text":"weather?"}]},
              {"role":"assistant","reasoning_content":"think","content":null,
               "tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\",\"days\":2}"}}]},
              {"role":"tool","tool_call_id":"call_1","content":"sunny"},
              {"role":"assistant","content":"It is sunny."}]}
            """);
        var m = r.Messages;
        Assert.Equal([ChatRole.System, ChatRole.System, ChatRole.User, ChatRole.Assistant, ChatRole.Tool, ChatRole.Assistant], m.Select(x => x.Role));
        Assert.Equal("be brief", m[0].Text);
        Assert.Equal("dev rules", m[1].Text);
        Assert.Equal("ann", m[2].AuthorName);
        Assert.Equal("weather?", m[2].Text);

        Assert.Equal("think", Assert.IsType<TextReasoningContent>(m[3].Contents[0]).Text);
        var call = Assert.IsType<FunctionCallContent>(Assert.Single(m[3].Contents, c => c is FunctionCallContent));
        Assert.Equal("call_1", call.CallId);
        Assert.Equal("get_weather", call.Name);
        Assert.Equal("Paris", ((JsonElement)call.Arguments!["city"]!).GetString());
        Assert.Equal(2, ((JsonElement)call.Arguments!["days"]!).GetInt32());
        Assert.DoesNotContain(m[3].Contents, c => c is TextContent);

        var result = Assert.IsType<FunctionResultContent>(Assert.Single(m[4].Contents));
        Assert.Equal("call_1", result.CallId);
        Assert.Equal("sunny", result.Result);
        Assert.Equal("It is sunny.", m[5].Text);
    }

    [Fact]
    public void Maps_tools_and_every_tool_choice()
    {
        const string tools = """
            "tools":[{"type":"function","function":{"name":"get_weather","description":"Weather now",
              "parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}},
              {"type":"function","function":{"name":"noop"}}]
            """;
        ChatCompletionRequest With(string choice) =>
            Parse($$"""{"model":"m","messages":[{"role":"user","content":"hi"}],{{tools}}{{choice}}}""");

        var auto = With("");
        Assert.Equal(2, auto.Options.Tools!.Count);
        var weather = Assert.IsAssignableFrom<AIFunctionDeclaration>(auto.Options.Tools[0]);
        Assert.Equal("get_weather", weather.Name);
        Assert.Equal("Weather now", weather.Description);
        Assert.Equal("string", weather.JsonSchema.GetProperty("properties").GetProperty("city").GetProperty("type").GetString());
        var noop = Assert.IsAssignableFrom<AIFunctionDeclaration>(auto.Options.Tools[1]);
        Assert.Equal("object", noop.JsonSchema.GetProperty("type").GetString());
        Assert.Null(auto.Options.ToolMode);

        Assert.Equal(ChatToolMode.None, With(""","tool_choice":"none" """).Options.ToolMode);
        Assert.Equal(ChatToolMode.Auto, With(""","tool_choice":"auto" """).Options.ToolMode);
        Assert.Equal(ChatToolMode.RequireAny, With(""","tool_choice":"required" """).Options.ToolMode);
        var specific = Assert.IsType<RequiredChatToolMode>(With(""","tool_choice":{"type":"function","function":{"name":"noop"}}""").Options.ToolMode);
        Assert.Equal("noop", specific.RequiredFunctionName);
    }

    [Fact]
    public void Json_schema_response_format_keeps_name_and_schema()
    {
        var r = Parse("""
            {"model":"m","messages":[{"role":"user","content":"hi"}],
             "response_format":{"type":"json_schema","json_schema":{"name":"answer","schema":{"type":"object","properties":{"x":{"type":"integer"}}}}}}
            """);
        var format = Assert.IsType<ChatResponseFormatJson>(r.Options.ResponseFormat);
        Assert.Equal("answer", format.SchemaName);
        Assert.Equal("integer", format.Schema!.Value.GetProperty("properties").GetProperty("x").GetProperty("type").GetString());
    }

    [Theory]
    [InlineData("""{"messages":[{"role":"user","content":"hi"}]}""", "model", null)]
    [InlineData("""{"model":"m"}""", "messages", null)]
    [InlineData("""{"model":"m","messages":[]}""", "messages", "empty_array")]
    [InlineData("""{"model":"m","messages":{"role":"user"}}""", "messages", "invalid_type")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"hi"}],"temperature":2.5}""", "temperature", "invalid_value")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"hi"}],"temperature":-0.1}""", "temperature", "invalid_value")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"hi"}],"temperature":"hot"}""", "temperature", "invalid_type")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"hi"}],"top_p":0}""", "top_p", "invalid_value")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"hi"}],"top_p":1.01}""", "top_p", "invalid_value")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"hi"}],"max_tokens":0}""", "max_tokens", "invalid_value")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"hi"}],"max_completion_tokens":-5}""", "max_completion_tokens", "invalid_value")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"hi"}],"max_tokens":1.5}""", "max_tokens", "invalid_type")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"hi"}],"n":2}""", "n", "unsupported_value")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"hi"}],"presence_penalty":3}""", "presence_penalty", "invalid_value")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"hi"}],"stop":[1]}""", "stop[0]", "invalid_type")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"hi"}],"logprobs":true}""", "logprobs", "unsupported_parameter")]
    [InlineData("""{"model":"m","messages":[{"role":"function","content":"x"}]}""", "messages[0].role", "invalid_value")]
    [InlineData("""{"model":"m","messages":[{"content":"x"}]}""", "messages[0].role", null)]
    [InlineData("""{"model":"m","messages":[{"role":"user"}]}""", "messages[0].content", null)]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"a"},{"role":"tool","content":"r"}]}""", "messages[1].tool_call_id", null)]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"x"}}]}]}""", "messages[0].content[0].type", "unsupported_value")]
    [InlineData("""{"model":"m","messages":[{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{oops"}}]}]}""", "messages[0].tool_calls[0].function.arguments", "invalid_value")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"hi"}],"tool_choice":"required"}""", "tool_choice", "invalid_value")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":{"type":"function","function":{"name":"g"}}}""", "tool_choice.function.name", "invalid_value")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"bad name"}}]}""", "tools[0].function.name", "invalid_value")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"retrieval"}]}""", "tools[0].type", "invalid_value")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"hi"}],"response_format":{"type":"yaml"}}""", "response_format.type", "invalid_value")]
    public void Rejects_bad_requests_naming_the_field(string json, string param, string? code)
    {
        var e = Rejects(json);
        Assert.Equal(400, e.StatusCode);
        Assert.Equal("invalid_request_error", e.Type);
        Assert.Equal(param, e.Param);
        Assert.Equal(code, e.Code);
        Assert.False(string.IsNullOrWhiteSpace(e.Message));
    }

    [Fact]
    public void A_body_that_is_not_an_object_is_rejected()
    {
        Assert.Equal(400, Rejects("[1,2]").StatusCode);
    }
}
