using System.Net;
using System.Text;
using DeepSeek.Runtime.Generation;
using Microsoft.Extensions.AI;

namespace DeepSeek.Server.Tests.Endpoints;

/// <summary>Every refusal is a 4xx/5xx with OpenAI's <c>{"error":{message,type,param,code}}</c> body.</summary>
public class ErrorTests
{
    private static ScriptedChatClient Throwing(Exception e) => new((_, _, _) => Throw(e));

    private static async IAsyncEnumerable<ChatResponseUpdate> Throw(Exception e)
    {
        await Task.Yield();
        if (e is not null) throw e;
        yield break;
    }

    [Theory]
    [InlineData("{not json", null, "invalid_json")]
    [InlineData("", null, null)]
    [InlineData("""{"model":"deepseek-chat","messages":[]}""", "messages", "empty_array")]
    [InlineData("""{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}""", "model", "model_not_found")]
    [InlineData("""{"model":"deepseek-chat","messages":[{"role":"user","content":"hi"}],"temperature":3}""", "temperature", "invalid_value")]
    [InlineData("""{"model":"deepseek-chat","messages":[{"role":"user","content":"hi"}],"n":3}""", "n", "unsupported_value")]
    [InlineData("""{"model":"deepseek-chat","messages":[{"role":"wizard","content":"hi"}]}""", "messages[0].role", "invalid_value")]
    [InlineData("""{"model":"deepseek-chat","messages":[{"role":"tool","content":"42"}]}""", "messages[0].tool_call_id", null)]
    public async Task Bad_requests_are_400_in_OpenAI_shape(string body, string? param, string? code)
    {
        var model = ScriptedChatClient.Replying([new TextContent("never")]);
        await using var app = await TestApp.StartAsync(model);
        var (status, json) = await Http.SendAsync(app.CreateHttpClient(), Http.Post(body));

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Http.AssertError(json, "invalid_request_error", code, param);
        Assert.Empty(model.Calls);
    }

    [Fact]
    public async Task Invalid_utf8_inside_a_string_is_400_not_500()
    {
        var model = ScriptedChatClient.Replying([new TextContent("never")]);
        await using var app = await TestApp.StartAsync(model);
        byte[] body = [.. Encoding.UTF8.GetBytes("""{"model":"deepseek-chat","messages":[{"role":"user","content":"a"""), 0xC3, 0x28, .. "\"}]}"u8];
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = new ByteArrayContent(body) };

        var (status, json) = await Http.SendAsync(app.CreateHttpClient(), request);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Http.AssertError(json, "invalid_request_error", "invalid_json");
        Assert.Empty(model.Calls);
    }

    [Fact]
    public async Task Prompt_over_the_context_is_400_context_length_exceeded_streaming_or_not()
    {
        var model = Throwing(new ContextLengthException("prompt of 5000 tokens plus 100 new tokens exceeds the 4096-token context", 5100, 4096));
        await using var app = await TestApp.StartAsync(model);
        var client = app.CreateHttpClient();

        foreach (var stream in new[] { "false", "true" })
        {
            var (status, json) = await Http.SendAsync(client, Http.Post($$"""{"model":"deepseek-chat","stream":{{stream}},"messages":[{"role":"user","content":"long"}]}"""));
            Assert.Equal(HttpStatusCode.BadRequest, status);
            var error = Http.AssertError(json, "invalid_request_error", "context_length_exceeded", "messages");
            Assert.Contains("4096", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task ArgumentException_from_the_model_is_400_and_other_failures_are_500_without_details()
    {
        await using (var app = await TestApp.StartAsync(Throwing(new ArgumentOutOfRangeException("TopK", "top_k is larger than the vocabulary"))))
        {
            var (status, json) = await Http.SendAsync(app.CreateHttpClient(), Http.Post(Http.Hello));
            Assert.Equal(HttpStatusCode.BadRequest, status);
            Assert.Contains("vocabulary", Http.AssertError(json, "invalid_request_error", null, "TopK").GetProperty("message").GetString(), StringComparison.Ordinal);
        }
        await using (var app = await TestApp.StartAsync(Throwing(new InvalidOperationException("secret internals"))))
        {
            var (status, json) = await Http.SendAsync(app.CreateHttpClient(), Http.Post(Http.Hello));
            Assert.Equal(HttpStatusCode.InternalServerError, status);
            Assert.DoesNotContain("secret", Http.AssertError(json, "server_error", null).GetProperty("message").GetString(), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Api_key_is_required_when_configured_except_for_health()
    {
        var model = ScriptedChatClient.Replying([new TextContent("ok")]);
        await using var app = await TestApp.StartAsync(model, o => o.ApiKey = "sk-right");
        var client = app.CreateHttpClient();

        foreach (var key in new[] { null, "sk-wrong", "sk-righ", "sk-right-and-more" })
        {
            var (status, json) = await Http.SendAsync(client, Http.Post(Http.Hello, key));
            Assert.Equal(HttpStatusCode.Unauthorized, status);
            Http.AssertError(json, "invalid_request_error", "invalid_api_key");
        }
        var (models, _) = await Http.SendAsync(client, new HttpRequestMessage(HttpMethod.Get, "/v1/models"));
        Assert.Equal(HttpStatusCode.Unauthorized, models);
        Assert.Empty(model.Calls);

        var (ok, body) = await Http.SendAsync(client, Http.Post(Http.Hello, "sk-right"));
        Assert.Equal(HttpStatusCode.OK, ok);
        Assert.Equal("ok", body.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString());

        var (health, status2) = await Http.SendAsync(client, new HttpRequestMessage(HttpMethod.Get, "/health"));
        Assert.Equal(HttpStatusCode.OK, health);
        Assert.Equal("ok", status2.GetProperty("status").GetString());
    }

    [Fact]
    public async Task The_official_client_with_a_wrong_key_gets_a_401_ClientResultException()
    {
        await using var app = await TestApp.StartAsync(ScriptedChatClient.Replying([new TextContent("ok")]), o => o.ApiKey = "sk-right");
        var e = await Assert.ThrowsAsync<System.ClientModel.ClientResultException>(() =>
            app.CreateOpenAIClient("sk-wrong").CompleteChatAsync([new OpenAI.Chat.UserChatMessage("hi")]));
        Assert.Equal(401, e.Status);
    }

    [Fact]
    public async Task Bodies_over_the_limit_are_413_whether_length_is_declared_or_chunked()
    {
        var model = ScriptedChatClient.Replying([new TextContent("never")]);
        await using var app = await TestApp.StartAsync(model, o => o.MaxRequestBodyBytes = 1000);
        var client = app.CreateHttpClient();
        var big = $$"""{"model":"deepseek-chat","messages":[{"role":"user","content":"{{new string('x', 2000)}}"}]}""";

        var (declared, json) = await Http.SendAsync(client, Http.Post(big));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, declared);
        Http.AssertError(json, "invalid_request_error", "request_too_large");

        var chunked = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes(big))) };
        var (streamed, json2) = await Http.SendAsync(client, chunked);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, streamed);
        Http.AssertError(json2, "invalid_request_error", "request_too_large");
        Assert.Empty(model.Calls);

        var (small, _) = await Http.SendAsync(client, Http.Post(Http.Hello));
        Assert.Equal(HttpStatusCode.OK, small);
    }

    [Fact]
    public async Task Unknown_routes_under_the_prefix_are_404_in_OpenAI_shape()
    {
        await using var app = await TestApp.StartAsync(ScriptedChatClient.Replying());
        var client = app.CreateHttpClient();
        var (status, json) = await Http.SendAsync(client, Http.Post("{}", path: "/v1/embeddings"));
        Assert.Equal(HttpStatusCode.NotFound, status);
        Http.AssertError(json, "invalid_request_error", "unknown_url");

        var (model, json2) = await Http.SendAsync(client, new HttpRequestMessage(HttpMethod.Get, "/v1/models/gpt-4o"));
        Assert.Equal(HttpStatusCode.NotFound, model);
        Http.AssertError(json2, "invalid_request_error", "model_not_found", "model");
    }

    [Fact]
    public async Task Misconfiguration_fails_at_start_up()
    {
        var builder = Microsoft.AspNetCore.Builder.WebApplication.CreateSlimBuilder();
        Microsoft.Extensions.DependencyInjection.OpenAIServerServiceCollectionExtensions.AddOpenAIServer(builder.Services, _ => { });
        await using var app = builder.Build();
        var e = Assert.Throws<InvalidOperationException>(() => Microsoft.AspNetCore.Builder.OpenAIEndpointRouteBuilderExtensions.MapOpenAIEndpoints(app));
        Assert.Contains("Models", e.Message, StringComparison.Ordinal);
    }
}
