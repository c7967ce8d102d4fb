using Microsoft.Extensions.AI;

namespace AgentWithTools;

/// <summary>
/// A minimal function-invocation loop (Microsoft.Extensions.AI's FunctionInvokingChatClient lives in a package this feed does
/// not serve): ask, run every requested function, send the results back as tool messages, repeat until the model answers.
/// </summary>
public static class ToolLoop
{
    /// <summary>
    /// Runs the conversation in <paramref name="history"/> (which receives every assistant and tool message) until a response has
    /// no function calls; functions come from <paramref name="options"/>'s <see cref="ChatOptions.Tools"/>.
    /// </summary>
    public static async Task<ChatResponse> RunAsync(IChatClient client, List<ChatMessage> history, ChatOptions options, int maxRounds = 8, CancellationToken cancellationToken = default)
    {
        var functions = (options.Tools ?? []).OfType<AIFunction>().ToDictionary(f => f.Name, StringComparer.Ordinal);
        for (var round = 0; round < maxRounds; round++)
        {
            var response = await client.GetResponseAsync(history, options, cancellationToken);
            history.AddMessages(response);
            var calls = response.Messages.SelectMany(m => m.Contents).OfType<FunctionCallContent>().ToList();
            if (calls.Count == 0) return response;

            var results = new List<AIContent>();
            foreach (var call in calls)
            {
                object? result;
                try
                {
                    result = functions.TryGetValue(call.Name, out var function)
                        ? await function.InvokeAsync(new AIFunctionArguments(call.Arguments), cancellationToken)
                        : $"Error: there is no function named '{call.Name}'.";
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    result = $"Error: {e.Message}";
                }
                results.Add(new FunctionResultContent(call.CallId, result));
            }
            history.Add(new ChatMessage(ChatRole.Tool, results));
        }
        throw new InvalidOperationException($"the model was still calling tools after {maxRounds} rounds");
    }
}
