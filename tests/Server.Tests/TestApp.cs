using System.ClientModel;
using System.ClientModel.Primitives;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OpenAI;

namespace DeepSeek.Server.Tests;

/// <summary>
/// The server library hosted in-memory the way an application would host it: a <see cref="WebApplication"/> on
/// <see cref="TestServer"/>, one fake model keyed <c>"chat"</c> and served as <c>deepseek-chat</c>.
/// </summary>
internal sealed class TestApp : IAsyncDisposable
{
    public const string Model = "deepseek-chat";
    private readonly WebApplication _app;

    private TestApp(WebApplication app) => _app = app;

    public TestServer Server => _app.GetTestServer();

    public static async Task<TestApp> StartAsync(IChatClient model, Action<OpenAIServerOptions>? configure = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseTestServer();
        builder.Logging.ClearProviders();
        builder.Services.AddKeyedSingleton("chat", model);
        builder.Services.AddOpenAIServer(o =>
        {
            o.AddModel(Model, "chat");
            configure?.Invoke(o);
        });
        var app = builder.Build();
        app.MapOpenAIEndpoints();
        await app.StartAsync();
        return new TestApp(app);
    }

    public HttpClient CreateHttpClient() => Server.CreateClient();

    /// <summary>The official OpenAI client, talking to this server through the in-memory transport.</summary>
    public OpenAI.Chat.ChatClient CreateOpenAIClient(string apiKey = "unused", string model = Model) =>
        new(model, new ApiKeyCredential(apiKey), new OpenAIClientOptions
        {
            Endpoint = new Uri(Server.BaseAddress, "/v1"),
            Transport = new HttpClientPipelineTransport(Server.CreateClient()),
        });

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
