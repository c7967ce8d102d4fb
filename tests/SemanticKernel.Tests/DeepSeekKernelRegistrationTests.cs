using System.Text.Json;
using AgentWithTools;
using DeepSeek.Runtime.Hosting;
using DeepSeek.Runtime.Tests.Hosting;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace DeepSeek.SemanticKernel.Tests;

/// <summary>
/// The connector registers the shape Semantic Kernel resolves (an <see cref="IChatClient"/> keyed by service id); tool calls are
/// proven end to end with a scripted model and a small function-invocation loop.
/// </summary>
public sealed class DeepSeekKernelRegistrationTests(TinyChatModelFixture fixture) : IClassFixture<TinyChatModelFixture>
{
    private const string WeatherCall =
        "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n```json\n{\"city\":\"Paris\"}\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>";

    [Fact]
    public async Task Chat_client_is_keyed_by_service_id_as_semantic_kernel_resolves_it()
    {
        var services = new ServiceCollection();
        services.AddDeepSeekChatClient(fixture.ModelPath, serviceId: "deepseek");
        await using var provider = services.BuildServiceProvider();

        var client = provider.GetRequiredKeyedService<IChatClient>("deepseek");
        Assert.Null(provider.GetService<IChatClient>());
        Assert.Equal("tiny-chat", client.GetService<ChatClientMetadata>()!.DefaultModelId);
        Assert.Same(provider.GetRequiredKeyedService<IChatModel>("deepseek"), client.GetService<IChatModel>());

        var response = await client.GetResponseAsync("Hello", new ChatOptions { Temperature = 0, MaxOutputTokens = 3 });
        Assert.InRange(response.Usage!.OutputTokenCount!.Value, 1, 3);
        Assert.True(response.Usage.InputTokenCount > 2);
    }

    [Fact]
    public async Task Without_a_service_id_the_client_is_the_default_one_and_options_apply()
    {
        var services = new ServiceCollection();
        services.AddDeepSeekChatClient(o => { o.ModelPath = fixture.ModelPath; o.ModelId = "configured"; o.ContextLength = 32; });
        await using var provider = services.BuildServiceProvider();
        var model = provider.GetRequiredService<IChatClient>().GetService<IChatModel>()!;
        Assert.Equal("configured", model.Info.Id);
        Assert.Equal(32, model.Info.ContextLength);
    }

    [Fact]
    public async Task A_bad_path_is_a_validation_error_naming_the_option()
    {
        var services = new ServiceCollection();
        services.AddDeepSeekChatClient("/no/such/model", serviceId: "deepseek");
        await using var provider = services.BuildServiceProvider();
        var e = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredKeyedService<IChatClient>("deepseek"));
        Assert.Contains("ModelPath '/no/such/model' does not exist", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Tool_declarations_in_function_calls_out()
    {
        using var model = new ScriptedChatModel(WeatherCall);
        using var client = new DeepSeekChatClient(model);
        var tool = AIFunctionFactory.Create((string city) => 21, "get_weather", "Current temperature of a city in °C.");
        var response = await client.GetResponseAsync("Weather in Paris?", new ChatOptions { Tools = [tool] });

        Assert.Contains("### get_weather\nDescription: Current temperature of a city in °C.", model.Prompts[0], StringComparison.Ordinal);
        Assert.Contains("\"city\"", model.Prompts[0], StringComparison.Ordinal);
        var call = Assert.Single(response.Messages.SelectMany(m => m.Contents).OfType<FunctionCallContent>());
        Assert.Equal("get_weather", call.Name);
        Assert.Equal("Paris", ((JsonElement)call.Arguments!["city"]!).GetString());
        Assert.Equal(ChatFinishReason.ToolCalls, response.FinishReason);
    }

    [Fact]
    public async Task Tool_round_trip_call_result_answer()
    {
        using var model = new ScriptedChatModel(WeatherCall, "It is 21 °C in Paris.");
        using var client = new DeepSeekChatClient(model);
        var cities = new List<string>();
        var tool = AIFunctionFactory.Create((string city) => { cities.Add(city); return new { city, celsius = 21 }; }, "get_weather", "Current weather of a city.");
        List<ChatMessage> history = [new(ChatRole.User, "Weather in Paris?")];

        var response = await ToolLoop.RunAsync(client, history, new ChatOptions { Tools = [tool] });

        Assert.Equal("It is 21 °C in Paris.", response.Text);
        Assert.Equal(["Paris"], cities);
        Assert.Equal([ChatRole.User, ChatRole.Assistant, ChatRole.Tool, ChatRole.Assistant], history.Select(m => m.Role));
        var callId = history[1].Contents.OfType<FunctionCallContent>().Single().CallId;
        Assert.Equal(callId, history[2].Contents.OfType<FunctionResultContent>().Single().CallId);
        Assert.Equal(2, model.Prompts.Count);
        Assert.EndsWith(
            "<｜Assistant｜><｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n```json\n{\"city\":\"Paris\"}\n```<｜tool▁call▁end｜>"
            + "<｜tool▁outputs▁begin｜><｜tool▁output▁begin｜>{\"city\":\"Paris\",\"celsius\":21}<｜tool▁output▁end｜><｜tool▁outputs▁end｜>",
            model.Prompts[1], StringComparison.Ordinal);
    }
}
