using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.AI;

namespace DeepSeek.Server.Tests.Endpoints;

/// <summary>
/// Damaged bodies (every truncation, random bit flips) of a request that uses every field: each answer is a 200
/// or a 4xx in OpenAI's shape, never a 500 or a dropped connection.
/// </summary>
public class BadInputTests
{
    private const string Full = """
        {"model":"deepseek-chat","temperature":0.7,"top_p":0.9,"max_tokens":16,"stop":["x"],"seed":3,"n":1,
         "tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}],"tool_choice":{"type":"function","function":{"name":"f"}},
         "response_format":{"type":"json_object"},"messages":[{"role":"system","content":"s"},{"role":"user","content":[{"type":"text","text":"u"}]},
         {"role":"assistant","reasoning_content":"r","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}}]},
         {"role":"tool","tool_call_id":"c","content":"ok"}]}
        """;

    [Fact]
    public async Task Truncated_and_bit_flipped_bodies_get_200_or_an_OpenAI_shaped_4xx()
    {
        var model = ScriptedChatClient.Replying([new TextContent("fine")]);
        await using var app = await TestApp.StartAsync(model);
        var client = app.CreateHttpClient();
        var bytes = Encoding.UTF8.GetBytes(Full);
        var random = new Random(1234);
        var bodies = new List<byte[]>();
        for (var n = 0; n < bytes.Length; n += 3) bodies.Add(bytes[..n]);
        for (var i = 0; i < 400; i++)
        {
            var copy = (byte[])bytes.Clone();
            for (var flips = 1 + random.Next(3); flips > 0; flips--) copy[random.Next(copy.Length)] ^= (byte)(1 << random.Next(8));
            bodies.Add(copy);
        }

        var statuses = new HashSet<HttpStatusCode>();
        foreach (var body in bodies)
        {
            var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = new ByteArrayContent(body) };
            using var response = await client.SendAsync(request);
            statuses.Add(response.StatusCode);
            var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
            if (response.StatusCode == HttpStatusCode.OK) Assert.Equal("fine", json.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString());
            else
            {
                Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{response.StatusCode} for body: {Encoding.UTF8.GetString(body)}");
                Assert.Equal("invalid_request_error", json.GetProperty("error").GetProperty("type").GetString());
            }
        }
        Assert.Contains(HttpStatusCode.BadRequest, statuses);
    }
}
