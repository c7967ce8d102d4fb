using System.Text.Json;
using Microsoft.Extensions.AI;
using OpenAI.Chat;
using ChatFinishReason = OpenAI.Chat.ChatFinishReason;

namespace DeepSeek.Server.Tests.Endpoints;

/// <summary>The official OpenAI client against the server, with a scripted model behind it.</summary>
public class ChatCompletionsTests
{
    private static AIContent[] Text(string text) => [new TextContent(text)];

    private static AIContent[] Usage(long prompt, long completion) =>
        [new UsageContent(new UsageDetails { InputTokenCount = prompt, OutputTokenCount = completion, TotalTokenCount = prompt + completion })];

    [Fact]
    public async Task Non_streaming_answer_reaches_the_official_client_with_usage_and_options_reach_the_model()
    {
        var model = ScriptedChatClient.Replying(Text("Hello"), Text(", world"), Usage(12, 3));
        await using var app = await TestApp.StartAsync(model);
        var options = new ChatCompletionOptions { Temperature = 0.3f, TopP = 0.9f, MaxOutputTokenCount = 50, StopSequences = { "STOP" } };

        ChatCompletion completion = await app.CreateOpenAIClient().CompleteChatAsync(
            [new SystemChatMessage("You are terse."), new UserChatMessage("Say hello")], options);

        Assert.Equal("Hello, world", Assert.Single(completion.Content).Text);
        Assert.Equal(ChatFinishReason.Stop, completion.FinishReason);
        Assert.Equal(TestApp.Model, completion.Model);
        Assert.StartsWith("chatcmpl-", completion.Id, StringComparison.Ordinal);
        Assert.Equal(12, completion.Usage.InputTokenCount);
        Assert.Equal(3, completion.Usage.OutputTokenCount);
        Assert.Equal(15, completion.Usage.TotalTokenCount);

        var (messages, seen) = Assert.Single(model.Calls);
        Assert.Equal([ChatRole.System, ChatRole.User], messages.Select(m => m.Role));
        Assert.Equal("Say hello", messages[1].Text);
        Assert.Equal(0.3f, seen!.Temperature);
        Assert.Equal(0.9f, seen.TopP);
        Assert.Equal(50, seen.MaxOutputTokens);
        Assert.Equal(["STOP"], seen.StopSequences!);
        Assert.Equal(TestApp.Model, seen.ModelId);
    }

    [Fact]
    public async Task Streaming_deltas_concatenate_to_the_model_output_and_end_with_usage()
    {
        var model = ScriptedChatClient.Replying(Text("The "), Text("quick "), Text("fox"), Usage(5, 3));
        await using var app = await TestApp.StartAsync(model);

        var text = "";
        ChatFinishReason? finish = null;
        ChatTokenUsage? usage = null;
        var options = new ChatCompletionOptions();
        await foreach (var update in app.CreateOpenAIClient().CompleteChatStreamingAsync([new UserChatMessage("go")], options))
        {
            foreach (var part in update.ContentUpdate) text += part.Text;
            finish ??= update.FinishReason;
            usage ??= update.Usage;
        }

        Assert.Equal("The quick fox", text);
        Assert.Equal(ChatFinishReason.Stop, finish);
        Assert.NotNull(usage);
        Assert.Equal(5, usage.InputTokenCount);
        Assert.Equal(3, usage.OutputTokenCount);
    }

    [Fact]
    public async Task Length_finish_reason_is_reported()
    {
        var model = new ScriptedChatClient((_, _, ct) => ScriptedChatClient.Yield(
            [new ChatResponseUpdate(ChatRole.Assistant, "cut") { FinishReason = Microsoft.Extensions.AI.ChatFinishReason.Length }], ct));
        await using var app = await TestApp.StartAsync(model);

        ChatCompletion completion = await app.CreateOpenAIClient().CompleteChatAsync([new UserChatMessage("go")], new ChatCompletionOptions { MaxOutputTokenCount = 1 });

        Assert.Equal(ChatFinishReason.Length, completion.FinishReason);
        Assert.Equal(1, Assert.Single(model.Calls).Options!.MaxOutputTokens);
    }

    [Fact]
    public async Task Tool_call_round_trip_carries_the_call_id_both_ways()
    {
        // Turn 1: the model calls get_weather. Turn 2: it must see the result keyed by that call's id.
        var model = new ScriptedChatClient((messages, options, ct) =>
        {
            if (messages[^1].Role == ChatRole.User)
            {
                Assert.Equal("get_weather", Assert.IsAssignableFrom<AIFunctionDeclaration>(Assert.Single(options!.Tools!)).Name);
                return ScriptedChatClient.Yield([new ChatResponseUpdate(ChatRole.Assistant,
                    [new FunctionCallContent("call_42", "get_weather", new Dictionary<string, object?> { ["city"] = "Paris" })])], ct);
            }
            var result = Assert.IsType<FunctionResultContent>(Assert.Single(messages[^1].Contents));
            var call = Assert.IsType<FunctionCallContent>(Assert.Single(messages[^2].Contents));
            var text = $"{call.Name}({call.CallId}) said {result.Result} for {call.Arguments!["city"]}";
            return ScriptedChatClient.Yield([new ChatResponseUpdate(ChatRole.Assistant, result.CallId == "call_42" ? text : "wrong id")], ct);
        });
        await using var app = await TestApp.StartAsync(model);
        var client = app.CreateOpenAIClient();
        var options = new ChatCompletionOptions
        {
            Tools = { ChatTool.CreateFunctionTool("get_weather", "Current weather", BinaryData.FromString("""{"type":"object","properties":{"city":{"type":"string"}}}""")) },
            ToolChoice = ChatToolChoice.CreateAutoChoice(),
        };
        List<OpenAI.Chat.ChatMessage> conversation = [new UserChatMessage("Weather in Paris?")];

        ChatCompletion first = await client.CompleteChatAsync(conversation, options);
        Assert.Equal(ChatFinishReason.ToolCalls, first.FinishReason);
        var toolCall = Assert.Single(first.ToolCalls);
        Assert.Equal("call_42", toolCall.Id);
        Assert.Equal("get_weather", toolCall.FunctionName);
        Assert.Equal("Paris", JsonDocument.Parse(toolCall.FunctionArguments).RootElement.GetProperty("city").GetString());

        conversation.Add(new AssistantChatMessage(first));
        conversation.Add(new ToolChatMessage(toolCall.Id, "sunny"));
        ChatCompletion second = await client.CompleteChatAsync(conversation, options);

        Assert.Equal("get_weather(call_42) said sunny for Paris", Assert.Single(second.Content).Text);
        Assert.Equal(ChatFinishReason.Stop, second.FinishReason);
    }

    [Fact]
    public async Task Streamed_tool_calls_arrive_whole_with_increasing_indexes()
    {
        var model = ScriptedChatClient.Replying(
            [new FunctionCallContent("a", "first", new Dictionary<string, object?> { ["x"] = 1 })],
            [new FunctionCallContent("b", "second", new Dictionary<string, object?>())]);
        await using var app = await TestApp.StartAsync(model);
        var options = new ChatCompletionOptions { Tools = { ChatTool.CreateFunctionTool("first"), ChatTool.CreateFunctionTool("second") } };

        var calls = new List<StreamingChatToolCallUpdate>();
        ChatFinishReason? finish = null;
        await foreach (var update in app.CreateOpenAIClient().CompleteChatStreamingAsync([new UserChatMessage("go")], options))
        {
            calls.AddRange(update.ToolCallUpdates);
            finish ??= update.FinishReason;
        }

        Assert.Equal([0, 1], calls.Select(c => c.Index));
        Assert.Equal(["a", "b"], calls.Select(c => c.ToolCallId));
        Assert.Equal(["first", "second"], calls.Select(c => c.FunctionName));
        Assert.Equal("""{"x":1}""", calls[0].FunctionArgumentsUpdate.ToString());
        Assert.Equal(ChatFinishReason.ToolCalls, finish);
    }

    [Fact]
    public async Task Models_are_listed_in_OpenAI_shape()
    {
        await using var app = await TestApp.StartAsync(ScriptedChatClient.Replying(), o => o.AddModel("deepseek-reasoner", "chat"));
        var client = app.CreateHttpClient();

        var (status, body) = await Http.SendAsync(client, new HttpRequestMessage(HttpMethod.Get, "/v1/models"));
        Assert.Equal(System.Net.HttpStatusCode.OK, status);
        Assert.Equal("list", body.GetProperty("object").GetString());
        var ids = body.GetProperty("data").EnumerateArray().Select(m => m.GetProperty("id").GetString()).Order().ToArray();
        Assert.Equal(new string?[] { "deepseek-chat", "deepseek-reasoner" }, ids);
        Assert.All(body.GetProperty("data").EnumerateArray(), m => Assert.Equal("model", m.GetProperty("object").GetString()));

        var (one, model) = await Http.SendAsync(client, new HttpRequestMessage(HttpMethod.Get, "/v1/models/deepseek-reasoner"));
        Assert.Equal(System.Net.HttpStatusCode.OK, one);
        Assert.Equal("deepseek-reasoner", model.GetProperty("id").GetString());
    }
}
