using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;
using DeepSeek.Runtime.Tests;
using DeepSeek.Runtime.Tests.Hosting;

namespace DeepSeek.Cli.Tests.Commands;

/// <summary>`deepseek serve` on a real socket: health, a chat completion with an API key, and shutdown on cancellation.</summary>
public sealed class ServeCommandTests(TinyChatModelFixture fixture) : IClassFixture<TinyChatModelFixture>
{
    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    [Fact]
    public async Task Serves_chat_completions_until_cancelled()
    {
        var url = $"http://127.0.0.1:{FreePort()}";
        using var cts = new CancellationTokenSource();
        var server = CliRun.RunAsync(["serve", "--model", fixture.ModelPath, "--urls", url, "--api-key", "k1", "--context", "256", "--threads", "1"], cts.Token);
        using var http = new HttpClient { BaseAddress = new Uri(url), Timeout = TimeSpan.FromMinutes(2) };

        // Wait (bounded) for the listener; the model loads before it opens.
        HttpResponseMessage? health = null;
        for (var i = 0; i < 300 && health is null; i++)
        {
            try { health = await http.GetAsync("/health"); }
            catch (HttpRequestException) { await Task.Delay(100); }
            Assert.False(server.IsCompleted, "serve exited early: " + (server.IsCompleted ? (await server).Err : ""));
        }
        Assert.NotNull(health);
        Assert.Equal(HttpStatusCode.OK, health!.StatusCode);

        var body = new { model = "tiny-chat", messages = new[] { new { role = "user", content = "Hi" } }, max_tokens = 4, temperature = 0 };
        using (var denied = await http.PostAsJsonAsync("/v1/chat/completions", body))
            Assert.Equal(HttpStatusCode.Unauthorized, denied.StatusCode);
        http.DefaultRequestHeaders.Authorization = new("Bearer", "k1");
        using (var ok = await http.PostAsJsonAsync("/v1/chat/completions", body))
        {
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
            using var doc = JsonDocument.Parse(await ok.Content.ReadAsStringAsync());
            Assert.Equal("chat.completion", doc.RootElement.GetProperty("object").GetString());
            Assert.InRange(doc.RootElement.GetProperty("usage").GetProperty("completion_tokens").GetInt32(), 1, 4);
        }

        cts.Cancel();
        var (exit, output, _) = await server;
        Assert.Equal(0, exit);
        Assert.Contains("serving 'tiny-chat'", output);
    }

    [Fact]
    public async Task A_bad_model_path_fails_at_start_with_one_line()
    {
        using var dir = new TempDir();
        var (exit, _, error) = await CliRun.RunAsync("serve", "--model", dir.File("missing"), "--urls", $"http://127.0.0.1:{FreePort()}");
        Assert.Equal(1, exit);
        Assert.StartsWith("error: ", error);
        Assert.Contains("ModelPath", error);
        Assert.DoesNotContain("   at ", error);
    }

    [Theory]
    [InlineData("0", "--expert-parallel must be at least 1")]
    [InlineData("3", "--expert-parallel 3 must divide the model's 4 routed experts (n_routed_experts)")]
    [InlineData("2", "not started by an MPI launcher")]   // this test process is not under mpirun (or has no Open MPI at all)
    public async Task Expert_parallel_that_cannot_run_fails_at_start_with_one_line(string experts, string expected)
    {
        var (exit, _, error) = await CliRun.RunAsync("serve", "--model", fixture.ModelPath, "--urls", $"http://127.0.0.1:{FreePort()}", "--expert-parallel", experts);
        Assert.Equal(1, exit);
        Assert.StartsWith("error: ", error);
        if (experts != "2" || error.Contains("launcher", StringComparison.Ordinal)) Assert.Contains(expected, error);
        else Assert.Contains("MPI", error);   // Open MPI's library is missing here: the other MpiUnavailableException message
        Assert.DoesNotContain("   at ", error);
    }
}
