// An agent with two C# functions over DeepSeek.Runtime: DI registration, IChatClient, and a small tool loop.
// Usage: dotnet run --project samples/AgentWithTools -- /models/DeepSeek-V3 "What's the weather in Paris, in Fahrenheit?"
using System.ComponentModel;
using AgentWithTools;
using DeepSeek.Runtime.Hosting;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;

if (args.Length < 1)
{
    Console.Error.WriteLine("usage: AgentWithTools MODEL_DIR [QUESTION]");
    return 1;
}

var services = new ServiceCollection();
services.AddDeepSeek(o =>
{
    o.ModelPath = args[0];
    o.Temperature = 0.3;
});
await using var provider = services.BuildServiceProvider();
var client = provider.GetRequiredService<IChatClient>();

var options = new ChatOptions
{
    Tools =
    [
        AIFunctionFactory.Create(([Description("City name")] string city) => Weather.Celsius(city), "get_weather", "Current temperature of a city in °C."),
        AIFunctionFactory.Create(([Description("Degrees Celsius")] double celsius) => celsius * 9 / 5 + 32, "celsius_to_fahrenheit", "Converts °C to °F."),
    ],
    MaxOutputTokens = 512,
};
List<ChatMessage> history =
[
    new(ChatRole.System, "You are a helpful assistant. Use the tools when they help."),
    new(ChatRole.User, args.Length > 1 ? args[1] : "What's the weather in Paris, in Fahrenheit?"),
];

var response = await ToolLoop.RunAsync(client, history, options);
foreach (var message in history)
    foreach (var content in message.Contents)
        Console.WriteLine(content switch
        {
            FunctionCallContent c => $"[call] {c.Name}({string.Join(", ", c.Arguments?.Select(a => $"{a.Key}={a.Value}") ?? [])})",
            FunctionResultContent r => $"[result] {r.Result}",
            TextReasoningContent r => $"[thinking] {r.Text}",
            TextContent t => $"[{message.Role}] {t.Text}",
            _ => $"[{content.GetType().Name}]",
        });
Console.WriteLine($"tokens: {response.Usage?.InputTokenCount} in, {response.Usage?.OutputTokenCount} out");
return 0;

/// <summary>A stand-in weather service.</summary>
internal static class Weather
{
    public static double Celsius(string city) => city.Trim().ToUpperInvariant() switch
    {
        "PARIS" => 21,
        "OSLO" => 4,
        _ => 15,
    };
}
