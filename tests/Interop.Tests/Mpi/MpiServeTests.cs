using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace DeepSeek.Interop.Tests.Mpi;

/// <summary>
/// Issue 10: <c>mpirun -np 2 … serve --expert-parallel 2</c> answers a chat completion over HTTP exactly as the
/// single-process server does, and every rank exits once rank 0 is told to stop.
/// </summary>
public sealed partial class MpiServeTests
{
    private static readonly TimeSpan Start = TimeSpan.FromSeconds(120);
    private static readonly TimeSpan Stop = TimeSpan.FromSeconds(60);
    private static readonly string[] Questions = ["What is 12 + 7?", "What is 40 - 18?"];

    [MpiFact]
    public async Task Serve_with_expert_parallel_2_answers_as_the_single_process_server_and_every_rank_exits_on_stop()
    {
        var model = Path.Combine(MpiRun.RepoRoot, "models", "deepseek-tiny-reasoner");
        string[] Serve(int port, params string[] extra) =>
            ["dotnet", MpiRun.CliPath, "serve", "--model", model, "--urls", $"http://127.0.0.1:{port}", "--threads", "1", .. extra];

        string[] expected;
        var port = FreePort();
        var single = Serve(port);
        using (var server = ServerProcess.Start(new ProcessStartInfo(single[0], single[1..])))
        {
            server.WaitUntilServing(Start);
            expected = [await AskAsync(port, Questions[0]), await AskAsync(port, Questions[1])];
            ServerProcess.Terminate(server.Id);
            Assert.True(server.WaitForExit(Stop), "the single-process server did not stop:\n" + server.Output);
        }

        port = FreePort();
        using var ranks = ServerProcess.Start(MpiRun.Info(2, Serve(port, "--expert-parallel", "2")));
        var serving = ranks.WaitUntilServing(Start);
        Assert.Contains("routed experts over 2 MPI ranks", serving);
        // Both requests at once: rank 0 interleaves their MoE calls, and each must still get exactly its own answer.
        var actual = await Task.WhenAll(Questions.Select(q => AskAsync(port, q)));
        Assert.Equal(expected, actual);

        ServerProcess.Terminate(int.Parse(RankZeroPid().Match(serving).Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));
        // mpirun ends when every rank has; exit 0 means every rank finalised MPI and none was killed or aborted.
        Assert.True(ranks.WaitForExit(Stop), $"the ranks did not all exit within {Stop} of stopping rank 0:\n" + ranks.Output);
        Assert.True(ranks.ExitCode == 0, $"mpirun exited with {ranks.ExitCode}:\n" + ranks.Output);
        Assert.Single(ranks.Output.Split('\n'), l => l.Contains("serving '", StringComparison.Ordinal));   // rank 0 alone prints
    }

    /// <summary>The assistant message (content and reasoning) and usage of a greedy chat completion.</summary>
    private static async Task<string> AskAsync(int port, string question)
    {
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromMinutes(2) };
        var body = new { model = "deepseek-tiny-reasoner", messages = new[] { new { role = "user", content = question } }, temperature = 0, max_tokens = 40 };
        using var response = await http.PostAsJsonAsync("/v1/chat/completions", body);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);
        using var doc = JsonDocument.Parse(text);
        var choice = doc.RootElement.GetProperty("choices")[0];
        var message = choice.GetProperty("message").GetRawText();
        Assert.Contains("content", message);
        return message + choice.GetProperty("finish_reason").GetRawText() + doc.RootElement.GetProperty("usage").GetRawText();
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    [GeneratedRegex(@"rank 0 is pid (\d+)")]
    private static partial Regex RankZeroPid();
}
