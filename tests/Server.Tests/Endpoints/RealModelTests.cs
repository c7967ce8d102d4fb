using System.ClientModel;
using System.ClientModel.Primitives;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using DeepSeek.Runtime.Hosting;
using DeepSeek.Runtime.Tests.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OpenAI;
using OpenAI.Chat;
using ChatFinishReason = OpenAI.Chat.ChatFinishReason;

namespace DeepSeek.Server.Tests.Endpoints;

/// <summary>
/// The server over our real <see cref="DeepSeekChatClient"/> and <see cref="DeepSeekChatModel"/> (a tiny random-weight
/// V3 with the real tokenizer and chat template), through the official OpenAI client: what a user deploys.
/// </summary>
public sealed class RealModelTests(TinyChatModelFixture fixture) : IClassFixture<TinyChatModelFixture>, IAsyncLifetime
{
    private const string Model = "tiny-chat";
    private WebApplication _app = null!;

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseTestServer();
        builder.Logging.ClearProviders();
        builder.Services.AddKeyedDeepSeek("tiny", o =>
        {
            o.ModelPath = fixture.ModelPath;
            o.ContextLength = 256;
            o.MaxConcurrentSequences = 8;
            o.Threads = 1;
        });
        builder.Services.AddKeyedSingleton<IChatModel>("tools", new ScriptedChatModel(
            "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n```json\n{\"city\":\"Paris\"}\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>",
            "It is 21 °C in Paris."));
        builder.Services.AddKeyedSingleton<IChatClient>("tools", (sp, key) => new DeepSeekChatClient(sp.GetRequiredKeyedService<IChatModel>(key)));
        builder.Services.AddOpenAIServer(o =>
        {
            o.AddModel(Model, "tiny");
            o.AddModel("scripted", "tools");
        });
        _app = builder.Build();
        _app.MapOpenAIEndpoints();
        await _app.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private ChatClient OpenAIClient(string model = Model) => new(model, new ApiKeyCredential("unused"), new OpenAIClientOptions
    {
        Endpoint = new Uri(_app.GetTestServer().BaseAddress, "/v1"),
        Transport = new HttpClientPipelineTransport(_app.GetTestServer().CreateClient()),
        NetworkTimeout = TimeSpan.FromMinutes(5),
    });

    private static ChatCompletionOptions Greedy(int tokens) => new() { Temperature = 0, MaxOutputTokenCount = tokens };

    private async Task<string> StreamAsync(string prompt, int tokens)
    {
        var text = new StringBuilder();
        await foreach (var update in OpenAIClient().CompleteChatStreamingAsync([new UserChatMessage(prompt)], Greedy(tokens)))
            foreach (var part in update.ContentUpdate) text.Append(part.Text);
        return text.ToString();
    }

    [Fact]
    public async Task Streaming_and_non_streaming_greedy_answers_agree_with_usage()
    {
        ChatCompletion completion = await OpenAIClient().CompleteChatAsync([new UserChatMessage("What is 2 + 2?")], Greedy(12));
        var text = completion.Content.Count > 0 ? completion.Content[0].Text : "";
        Assert.Equal(text, await StreamAsync("What is 2 + 2?", 12));
        Assert.InRange(completion.Usage.OutputTokenCount, 1, 12);
        Assert.True(completion.Usage.InputTokenCount > 5);
        Assert.Equal(completion.Usage.InputTokenCount + completion.Usage.OutputTokenCount, completion.Usage.TotalTokenCount);
        Assert.Contains(completion.FinishReason, new[] { ChatFinishReason.Length, ChatFinishReason.Stop });
    }

    [Fact]
    public async Task Eight_concurrent_streams_equal_the_same_requests_one_at_a_time()
    {
        var prompts = Enumerable.Range(0, 8).Select(i => $"Tell me about the number {i * 37 + 5}.").ToArray();
        var alone = new List<string>();
        foreach (var p in prompts) alone.Add(await StreamAsync(p, 10));
        var together = await Task.WhenAll(prompts.Select(p => StreamAsync(p, 10)));
        Assert.Equal(alone, together);
        Assert.True(alone.Distinct().Count() > 1, "different prompts should give different greedy outputs");
    }

    [Fact]
    public async Task Legacy_completions_stream_and_complete_the_same_text()
    {
        var http = _app.GetTestServer().CreateClient();
        var body = new { model = Model, prompt = "The capital of France is", max_tokens = 8, temperature = 0 };
        using var response = await http.PostAsJsonAsync("/v1/completions", body);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("text_completion", doc.RootElement.GetProperty("object").GetString());
        var text = doc.RootElement.GetProperty("choices")[0].GetProperty("text").GetString();
        var usage = doc.RootElement.GetProperty("usage");
        Assert.InRange(usage.GetProperty("completion_tokens").GetInt32(), 1, 8);

        using var streamed = await http.PostAsJsonAsync("/v1/completions", new { model = Model, prompt = "The capital of France is", max_tokens = 8, temperature = 0, stream = true, stream_options = new { include_usage = true } });
        var events = (await streamed.Content.ReadAsStringAsync()).Split("\n\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("data: [DONE]", events[^1]);
        var chunks = events[..^1].Select(e => JsonDocument.Parse(e["data: ".Length..]).RootElement).ToList();
        Assert.Equal(text, string.Concat(chunks.Where(c => c.GetProperty("choices").GetArrayLength() > 0).Select(c => c.GetProperty("choices")[0].GetProperty("text").GetString())));
        Assert.Equal(usage.GetProperty("total_tokens").GetInt32(), chunks[^1].GetProperty("usage").GetProperty("total_tokens").GetInt32());
    }

    [Fact]
    public async Task Prompt_over_the_context_is_a_400_in_openai_shape()
    {
        var http = _app.GetTestServer().CreateClient();
        var longPrompt = string.Join(" ", Enumerable.Repeat("token", 400));
        using var chat = await http.PostAsJsonAsync("/v1/chat/completions", new { model = Model, messages = new[] { new { role = "user", content = longPrompt } }, max_tokens = 4 });
        Assert.Equal(HttpStatusCode.BadRequest, chat.StatusCode);
        using var doc = JsonDocument.Parse(await chat.Content.ReadAsStringAsync());
        Assert.Equal("context_length_exceeded", doc.RootElement.GetProperty("error").GetProperty("code").GetString());

        using var completion = await http.PostAsJsonAsync("/v1/completions", new { model = Model, prompt = longPrompt, max_tokens = 4 });
        Assert.Equal(HttpStatusCode.BadRequest, completion.StatusCode);
        using var bad = await http.PostAsJsonAsync("/v1/completions", new { model = Model, prompt = new[] { 0, 999999 } });
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
    }

    [Fact]
    public async Task Tool_call_round_trip_through_the_deepseek_tool_grammar()
    {
        var client = OpenAIClient("scripted");
        var tool = ChatTool.CreateFunctionTool("get_weather", "Current weather in a city",
            BinaryData.FromString("""{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}"""));
        var options = new ChatCompletionOptions { Tools = { tool } };
        List<OpenAI.Chat.ChatMessage> messages = [new UserChatMessage("Weather in Paris?")];
        ChatCompletion first = await client.CompleteChatAsync(messages, options);
        Assert.Equal(ChatFinishReason.ToolCalls, first.FinishReason);
        var call = Assert.Single(first.ToolCalls);
        Assert.Equal("get_weather", call.FunctionName);
        Assert.Equal("Paris", JsonDocument.Parse(call.FunctionArguments).RootElement.GetProperty("city").GetString());

        messages.Add(new AssistantChatMessage(first));
        messages.Add(new ToolChatMessage(call.Id, """{"celsius":21}"""));
        ChatCompletion second = await client.CompleteChatAsync(messages, options);
        Assert.Equal("It is 21 °C in Paris.", second.Content[0].Text);

        var scripted = (ScriptedChatModel)_app.Services.GetRequiredKeyedService<IChatModel>("tools");
        Assert.Contains("get_weather", scripted.Prompts[0]);                                  // the declaration reached the prompt
        Assert.Contains("<｜tool▁output▁begin｜>{\"celsius\":21}<｜tool▁output▁end｜>", scripted.Prompts[1]); // and the result came back as a tool output
    }
}
