using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace DeepSeek.Server.Tests;

/// <summary>Raw HTTP helpers for checking the wire format the official client hides.</summary>
internal static class Http
{
    public static HttpRequestMessage Post(string json, string? apiKey = null, string path = "/v1/chat/completions")
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        if (apiKey is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        return request;
    }

    public static async Task<(HttpStatusCode Status, JsonElement Body)> SendAsync(HttpClient client, HttpRequestMessage request)
    {
        using var response = await client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, JsonDocument.Parse(text).RootElement.Clone());
    }

    /// <summary>The <c>data:</c> payloads of an SSE body, in order (<c>[DONE]</c> included as is).</summary>
    public static async Task<List<string>> ReadEventsAsync(HttpResponseMessage response)
    {
        var events = new List<string>();
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        while (await reader.ReadLineAsync() is { } line)
        {
            if (line.StartsWith("data: ", StringComparison.Ordinal)) events.Add(line["data: ".Length..]);
            else Assert.Equal("", line);
        }
        return events;
    }

    /// <summary>Asserts OpenAI's error shape and returns <c>error</c>.</summary>
    public static JsonElement AssertError(JsonElement body, string type, string? code, string? param = null)
    {
        var error = body.GetProperty("error");
        Assert.False(string.IsNullOrWhiteSpace(error.GetProperty("message").GetString()));
        Assert.Equal(type, error.GetProperty("type").GetString());
        Assert.Equal(code, error.GetProperty("code").GetString());
        Assert.Equal(param, error.GetProperty("param").GetString());
        return error;
    }

    public const string Hello = """{"model":"deepseek-chat","messages":[{"role":"user","content":"hello"}]}""";
}
