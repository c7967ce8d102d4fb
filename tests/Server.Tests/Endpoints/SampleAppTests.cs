using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using DeepSeek.Runtime.Tests.Hosting;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Options;

namespace DeepSeek.Server.Tests.Endpoints;

/// <summary>The copyable sample app (samples/OpenAIServer) through <see cref="WebApplicationFactory{TEntryPoint}"/>.</summary>
public sealed class SampleAppTests(TinyChatModelFixture fixture) : IClassFixture<TinyChatModelFixture>
{
    private WebApplicationFactory<Program> Factory(string? modelPath) => new WebApplicationFactory<Program>().WithWebHostBuilder(b =>
    {
        b.UseSetting("DeepSeek:ModelPath", modelPath ?? "");
        b.UseSetting("DeepSeek:ContextLength", "256");
        b.UseSetting("DeepSeek:Threads", "1");
    });

    [Fact]
    public async Task Serves_the_openai_api_and_its_own_endpoint_from_one_model()
    {
        await using var factory = Factory(fixture.ModelPath);
        var http = factory.CreateClient();

        using var models = await http.GetAsync("/v1/models");
        Assert.Contains("\"deepseek\"", await models.Content.ReadAsStringAsync());

        using var chat = await http.PostAsJsonAsync("/v1/chat/completions",
            new { model = "deepseek", messages = new[] { new { role = "user", content = "Hello" } }, max_tokens = 3, temperature = 0 });
        Assert.Equal(HttpStatusCode.OK, chat.StatusCode);

        using var summary = await http.PostAsJsonAsync("/summarize", new { text = "A long text about DeepSeek." });
        Assert.True(summary.StatusCode == HttpStatusCode.OK, await summary.Content.ReadAsStringAsync());
        using var doc = JsonDocument.Parse(await summary.Content.ReadAsStringAsync());
        Assert.True(doc.RootElement.GetProperty("tokens").GetInt64() > 0);

        using var empty = await http.PostAsJsonAsync("/summarize", new { text = "" });
        Assert.Equal(HttpStatusCode.BadRequest, empty.StatusCode);
    }

    [Fact]
    public async Task Without_a_model_path_it_serves_the_embedded_model()
    {
        await using var factory = Factory(null);
        var http = factory.CreateClient();
        using var chat = await http.PostAsJsonAsync("/v1/chat/completions",
            new { model = "deepseek", messages = new[] { new { role = "user", content = "What is 482 + 93?" } }, max_tokens = 120, temperature = 0 });
        Assert.Equal(HttpStatusCode.OK, chat.StatusCode);
        using var doc = JsonDocument.Parse(await chat.Content.ReadAsStringAsync());
        var message = doc.RootElement.GetProperty("choices")[0].GetProperty("message");
        Assert.EndsWith("= 575", message.GetProperty("content").GetString(), StringComparison.Ordinal);
        Assert.Contains("+=575", message.GetProperty("reasoning_content").GetString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/no/such/model")]
    public void A_bad_model_path_fails_at_start_up_naming_the_option(string? path)
    {
        using var factory = Factory(path);
        var e = Assert.ThrowsAny<Exception>(() => factory.CreateClient());
        var validation = e as OptionsValidationException ?? e.InnerException as OptionsValidationException;
        Assert.NotNull(validation);
        Assert.Contains("ModelPath", validation!.Message);
    }
}
