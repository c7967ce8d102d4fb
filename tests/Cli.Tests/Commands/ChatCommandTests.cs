using System.CommandLine;
using DeepSeek.Cli.Commands;
using DeepSeek.Runtime.Hosting;
using DeepSeek.Runtime.Tests.Hosting;
using Microsoft.Extensions.AI;

namespace DeepSeek.Cli.Tests.Commands;

/// <summary><c>deepseek chat</c> on the tiny random-weight chat model: one-shot answers and the REPL over a redirected stdin.</summary>
public sealed class ChatCommandTests(TinyChatModelFixture fixture) : IClassFixture<TinyChatModelFixture>
{
    private string[] Args(params string[] extra) => ["chat", "--model", fixture.ModelPath, "--temperature", "0", "--max-tokens", "4", .. extra];

    private static async Task<(int Exit, string Out, string Err)> RunReplAsync(string stdin, params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var root = new RootCommand { ChatCommand.Create(new StringReader(stdin)) };
        var exit = await root.Parse(args).InvokeAsync(new InvocationConfiguration { Output = output, Error = error });
        return (exit, output.ToString(), error.ToString());
    }

    [Fact]
    public async Task One_shot_prints_the_greedy_answer_the_chat_client_gives()
    {
        var (exit, output, error) = await CliRun.RunAsync(Args("--system", "Be brief.", "Hello there"));
        Assert.True(exit == 0, error);

        using var model = DeepSeekChatModel.Load(fixture.ModelPath, new DeepSeekModelOptions { Temperature = 0, MaxOutputTokens = 4 });
        using var client = new DeepSeekChatClient(model);
        var expected = await client.GetResponseAsync([new(ChatRole.System, "Be brief."), new(ChatRole.User, "Hello there")]);
        Assert.Equal(expected.Text + Environment.NewLine, output);
        Assert.NotEqual("", expected.Text);
    }

    [Fact]
    public async Task Without_a_model_the_embedded_one_answers()
    {
        // Eight tokens stay inside the <think> reasoning, which goes to stderr (the answer itself is tested in EvalCommandTests).
        var (exit, output, error) = await CliRun.RunAsync("chat", "--temperature", "0", "--max-tokens", "8", "Hello");
        Assert.True(exit == 0, error);
        Assert.NotEqual("", (output + error).Trim());
    }

    [Fact]
    public async Task A_bad_folder_is_one_error_line()
    {
        var (exit, _, error) = await CliRun.RunAsync("chat", "--model", "/no/such/model", "Hello");
        Assert.Equal(1, exit);
        Assert.StartsWith("error: DeepSeekModelOptions.ModelPath '/no/such/model' does not exist", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Repl_keeps_history_and_reset_starts_over()
    {
        var (exit1, once, error1) = await RunReplAsync("Hello\n/exit\n", Args());
        Assert.True(exit1 == 0, error1);
        Assert.NotEqual("", once.Trim());

        // After /reset the same question has the same history, so greedy gives the same answer; /exit stops reading.
        var (exit2, twice, error2) = await RunReplAsync("Hello\n/reset\nHello\n/exit\nnever asked\n", Args());
        Assert.True(exit2 == 0, error2);
        Assert.Equal(once + "(history cleared)" + Environment.NewLine + once, twice);

        // Without /reset the second question sees the first exchange: the prompt differs, so (with these weights) does the answer.
        var (_, kept, _) = await RunReplAsync("Hello\nHello\n", Args());
        Assert.StartsWith(once, kept, StringComparison.Ordinal);
        Assert.NotEqual(once + once, kept);
    }
}
