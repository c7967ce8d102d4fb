using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;

namespace DeepSeek.Server.Tests;

/// <summary>
/// A fake model: each call runs <c>script</c> over the request and streams what it yields. Non-streaming calls
/// are the same stream folded by <see cref="ChatResponseExtensions.ToChatResponseAsync"/>. Records every call.
/// </summary>
internal sealed class ScriptedChatClient(
    Func<IList<ChatMessage>, ChatOptions?, CancellationToken, IAsyncEnumerable<ChatResponseUpdate>> script) : IChatClient
{
    public ConcurrentQueue<(List<ChatMessage> Messages, ChatOptions? Options)> Calls { get; } = new();

    /// <summary>A client that answers every request with these updates.</summary>
    public static ScriptedChatClient Replying(params AIContent[][] updates) =>
        new((_, _, ct) => Yield(updates.Select(c => new ChatResponseUpdate(ChatRole.Assistant, c.ToList())), ct));

    public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
        GetStreamingResponseAsync(messages, options, cancellationToken).ToChatResponseAsync(cancellationToken);

    public IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var list = messages.ToList();
        Calls.Enqueue((list, options));
        return script(list, options, cancellationToken);
    }

    public object? GetService(Type serviceType, object? serviceKey = null) => null;

    public void Dispose() { }

    public static async IAsyncEnumerable<ChatResponseUpdate> Yield(IEnumerable<ChatResponseUpdate> updates, [EnumeratorCancellation] CancellationToken ct)
    {
        foreach (var update in updates)
        {
            ct.ThrowIfCancellationRequested();
            await Task.Yield();
            yield return update;
        }
    }
}
