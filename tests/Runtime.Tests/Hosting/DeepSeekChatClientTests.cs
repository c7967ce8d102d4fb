using System.Text.Json;
using DeepSeek.Runtime.Hosting;
using Microsoft.Extensions.AI;

namespace DeepSeek.Runtime.Tests.Hosting;

/// <summary>The semantic paths of <see cref="DeepSeekChatClient"/>, driven by a scripted model: reasoning, tool calls, options.</summary>
public sealed class DeepSeekChatClientTests
{
    private const string WeatherCall =
        "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n```json\n{\"city\":\"Paris\"}\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>";

    private static AIFunctionDeclaration Weather() => AIFunctionFactory.CreateDeclaration("get_weather", "Current weather of a city.",
        JsonDocument.Parse("""{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}""").RootElement);

    [Fact]
    public async Task Think_block_becomes_reasoning_content_and_the_rest_text()
    {
        using var model = new ScriptedChatModel("<think>\nThe user greets.\n</think>\n\nHello!");
        using var client = new DeepSeekChatClient(model);
        var response = await client.GetResponseAsync("Hi");
        var contents = response.Messages.Single().Contents;
        Assert.Equal("\nThe user greets.\n", string.Concat(contents.OfType<TextReasoningContent>().Select(r => r.Text)));
        Assert.Equal("\n\nHello!", response.Text);
        Assert.Equal(ChatFinishReason.Stop, response.FinishReason);
    }

    [Fact]
    public async Task R1_prompt_that_opens_think_starts_in_reasoning()
    {
        using var model = new ScriptedChatModel(["Let me see.\n</think>\n\n42"], family: "deepseek-r1");
        using var client = new DeepSeekChatClient(model);
        var updates = new List<ChatResponseUpdate>();
        await foreach (var u in client.GetStreamingResponseAsync("What is six times seven?")) updates.Add(u);
        Assert.EndsWith("<｜Assistant｜><think>\n", model.Prompts.Single(), StringComparison.Ordinal);
        var all = updates.SelectMany(u => u.Contents).ToList();
        Assert.Equal("Let me see.\n", string.Concat(all.OfType<TextReasoningContent>().Select(r => r.Text)));
        Assert.Equal("\n\n42", string.Concat(all.OfType<TextContent>().Select(t => t.Text)));
        Assert.IsType<UsageContent>(all[^1]);
        Assert.Equal(ChatFinishReason.Stop, updates[^1].FinishReason);
        Assert.All(updates, u => Assert.Equal(ChatRole.Assistant, u.Role));
        Assert.Single(updates.Select(u => u.ResponseId).Distinct());
    }

    [Fact]
    public async Task Tool_declarations_are_rendered_into_the_system_prompt_and_calls_come_back_as_function_calls()
    {
        using var model = new ScriptedChatModel(WeatherCall);
        using var client = new DeepSeekChatClient(model);
        var response = await client.GetResponseAsync(
            [new(ChatRole.System, "You are a weather bot."), new(ChatRole.User, "Weather in Paris?")],
            new ChatOptions { Tools = [Weather()] });

        var prompt = model.Prompts.Single();
        Assert.StartsWith("<｜begin▁of▁sentence｜>You are a weather bot.\n\n## Tools\n", prompt, StringComparison.Ordinal);
        Assert.Contains("### get_weather\nDescription: Current weather of a city.\n\nParameters: {\"type\":\"object\"", prompt, StringComparison.Ordinal);
        Assert.Contains("<｜tool▁call▁begin｜>function<｜tool▁sep｜>FUNCTION_NAME", prompt, StringComparison.Ordinal);

        var call = Assert.Single(response.Messages.SelectMany(m => m.Contents).OfType<FunctionCallContent>());
        Assert.Equal("get_weather", call.Name);
        Assert.StartsWith("call_", call.CallId, StringComparison.Ordinal);
        Assert.Equal("Paris", ((JsonElement)call.Arguments!["city"]!).GetString());
        Assert.Equal(ChatFinishReason.ToolCalls, response.FinishReason);
        Assert.Equal("", response.Text);
    }

    [Fact]
    public async Task Function_results_are_rendered_as_tool_outputs_after_the_call()
    {
        using var model = new ScriptedChatModel("It is 21 °C in Paris.");
        using var client = new DeepSeekChatClient(model);
        ChatMessage[] history =
        [
            new(ChatRole.User, "Weather in Paris?"),
            new(ChatRole.Assistant, [new FunctionCallContent("call_1", "get_weather", new Dictionary<string, object?> { ["city"] = "Paris" })]),
            new(ChatRole.Tool, [new FunctionResultContent("call_1", new Dictionary<string, object?> { ["celsius"] = 21 })]),
        ];
        var response = await client.GetResponseAsync(history, new ChatOptions { Tools = [Weather()] });
        Assert.Equal("It is 21 °C in Paris.", response.Text);
        Assert.EndsWith(
            "<｜User｜>Weather in Paris?<｜Assistant｜><｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n```json\n{\"city\":\"Paris\"}\n```<｜tool▁call▁end｜>"
            + "<｜tool▁outputs▁begin｜><｜tool▁output▁begin｜>{\"celsius\":21}<｜tool▁output▁end｜><｜tool▁outputs▁end｜>",
            model.Prompts.Single(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Malformed_tool_call_is_an_error_content_not_an_exception()
    {
        using var model = new ScriptedChatModel("<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n```json\n{not json}\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>");
        using var client = new DeepSeekChatClient(model);
        var response = await client.GetResponseAsync("Weather?", new ChatOptions { Tools = [Weather()] });
        var error = Assert.Single(response.Messages.SelectMany(m => m.Contents).OfType<ErrorContent>());
        Assert.Equal("tool_call_parse_error", error.ErrorCode);
        Assert.Contains("get_weather", error.Details, StringComparison.Ordinal);
        Assert.Empty(response.Messages.SelectMany(m => m.Contents).OfType<FunctionCallContent>());
        Assert.Equal(ChatFinishReason.Stop, response.FinishReason);
    }

    [Fact]
    public async Task Chat_options_map_to_sampling_options()
    {
        using var model = new ScriptedChatModel("a", "b");
        using var client = new DeepSeekChatClient(model);
        await client.GetResponseAsync("x", new ChatOptions
        {
            Temperature = 0.7f, TopP = 0.9f, TopK = 40, MaxOutputTokens = 33, Seed = 5, StopSequences = ["END"],
            FrequencyPenalty = 0.25f, PresencePenalty = 0.5f, AdditionalProperties = new() { ["min_p"] = 0.05 },
        });
        var s = model.Options[0];
        Assert.Equal(0.7, s.Temperature, 5);
        Assert.Equal(0.9, s.TopP, 5);
        Assert.Equal(40, s.TopK);
        Assert.Equal(33, s.MaxTokens);
        Assert.Equal(5, s.Seed);
        Assert.Equal(["END"], s.StopSequences);
        Assert.Equal(0.25, s.FrequencyPenalty, 5);
        Assert.Equal(0.5, s.PresencePenalty, 5);
        Assert.Equal(0.05, s.MinP, 5);

        // Unset options take the model's defaults (temperature 0 and 512 tokens for the scripted model).
        await client.GetResponseAsync("y");
        Assert.Equal(0, model.Options[1].Temperature);
        Assert.Equal(512, model.Options[1].MaxTokens);
    }

    [Fact]
    public async Task Json_response_format_and_instructions_become_system_instructions()
    {
        using var model = new ScriptedChatModel("{}");
        using var client = new DeepSeekChatClient(model);
        var schema = JsonDocument.Parse("""{"type":"object","properties":{"n":{"type":"integer"}}}""").RootElement;
        await client.GetResponseAsync("count", new ChatOptions { Instructions = "Be terse.", ResponseFormat = ChatResponseFormat.ForJsonSchema(schema, "Count") });
        var prompt = model.Prompts.Single();
        Assert.StartsWith("<｜begin▁of▁sentence｜>Be terse.\n\nRespond with a single valid JSON object and nothing else.", prompt, StringComparison.Ordinal);
        Assert.Contains("""{"type":"object","properties":{"n":{"type":"integer"}}}""", prompt, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Tool_mode_none_hides_tools_and_required_asks_for_a_call()
    {
        using var model = new ScriptedChatModel("a", "b");
        using var client = new DeepSeekChatClient(model);
        await client.GetResponseAsync("x", new ChatOptions { Tools = [Weather()], ToolMode = ChatToolMode.None });
        await client.GetResponseAsync("x", new ChatOptions { Tools = [Weather()], ToolMode = ChatToolMode.RequireSpecific("get_weather") });
        Assert.DoesNotContain("## Tools", model.Prompts[0], StringComparison.Ordinal);
        Assert.Contains("You must call the tool get_weather now.", model.Prompts[1], StringComparison.Ordinal);
    }

    [Fact]
    public void GetService_returns_the_model_and_metadata()
    {
        using var model = new ScriptedChatModel();
        using var client = new DeepSeekChatClient(model);
        Assert.Same(model, client.GetService<IChatModel>());
        Assert.Same(model, client.GetService<ScriptedChatModel>());
        Assert.Same(client, client.GetService<DeepSeekChatClient>());
        var metadata = client.GetService<ChatClientMetadata>();
        Assert.Equal("deepseek-runtime", metadata!.ProviderName);
        Assert.Equal("scripted", metadata.DefaultModelId);
        Assert.Null(client.GetService(typeof(IChatModel), serviceKey: "other"));
    }

    [Fact]
    public async Task Images_are_refused_clearly()
    {
        using var model = new ScriptedChatModel("x");
        using var client = new DeepSeekChatClient(model);
        var e = await Assert.ThrowsAsync<NotSupportedException>(() =>
            client.GetResponseAsync([new ChatMessage(ChatRole.User, [new DataContent(new byte[] { 1 }, "image/png")])]));
        Assert.Contains("DataContent", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Requests_beyond_the_limit_queue_and_run_when_a_slot_frees()
    {
        using var model = new ScriptedChatModel(["one two", "three four", "five six"], options: new DeepSeekModelOptions { MaxConcurrentSequences = 1, Temperature = 0 });
        var hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        model.Hold = hold;
        using var client = new DeepSeekChatClient(model);
        var tasks = Enumerable.Range(0, 3).Select(i => Task.Run(() => client.GetResponseAsync($"q{i}"))).ToArray();

        var deadline = DateTime.UtcNow.AddSeconds(30);
        while ((model.ActiveRequests != 1 || model.QueueLength != 2) && DateTime.UtcNow < deadline) await Task.Delay(10);
        Assert.Equal(1, model.ActiveRequests);
        Assert.Equal(2, model.QueueLength);

        hold.SetResult();
        var texts = (await Task.WhenAll(tasks)).Select(r => r.Text).Order().ToArray();
        Assert.Equal(["five six", "one two", "three four"], texts);
        Assert.Equal(0, model.QueueLength);
    }
}
