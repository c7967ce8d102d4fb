using System.Runtime.CompilerServices;
using DeepSeek.Runtime.Generation;
using DeepSeek.Runtime.Hosting;
using DeepSeek.Runtime.Tests.Checkpoints;
using DeepSeek.Runtime.Tokenization;

namespace DeepSeek.Runtime.Tests.Hosting;

/// <summary>
/// An <see cref="IChatModel"/> whose output text is given: each request takes the next scripted reply, tokenizes it with the
/// real DeepSeek-V3 tokenizer and streams it token by token (then EOS), through the same <see cref="ChatModelBase"/> pipeline
/// (rendering, queueing, parsing, usage) as the real model. Records every prompt it was given.
/// </summary>
public sealed class ScriptedChatModel : ChatModelBase
{
    private static readonly Lazy<BpeTokenizer> SharedTokenizer = new(() => BpeTokenizer.FromDirectory(RepoPaths.TestData("tokenizers", "deepseek-v3")));
    private readonly Queue<string> _replies;
    private readonly object _lock = new();

    public ScriptedChatModel(IEnumerable<string> replies, string family = "deepseek-v3", DeepSeekModelOptions? options = null)
        : base(new ChatModelInfo("scripted", TinyChatModelFixture.Config, 4096, SharedTokenizer.Value,
            ChatFormats.FromTokenizerConfig(family == "deepseek-v3"
                ? RepoPaths.TestData("tokenizers", "deepseek-v3", "tokenizer_config.json")
                : RepoPaths.TestData("chat", family, "tokenizer_config.json")), "scripted"),
            options ?? new DeepSeekModelOptions { Temperature = 0, MaxOutputTokens = 512 })
    {
        _replies = new Queue<string>(replies);
    }

    public ScriptedChatModel(params string[] replies) : this((IEnumerable<string>)replies) { }

    /// <summary>Prompts received, decoded (special tokens kept).</summary>
    public List<string> Prompts { get; } = [];

    /// <summary>Sampling options received.</summary>
    public List<SamplingOptions> Options { get; } = [];

    /// <summary>When set, each request waits for it after its first token (to hold a slot open).</summary>
    public TaskCompletionSource? Hold { get; set; }

    protected override async IAsyncEnumerable<GeneratedTextToken> GenerateCoreAsync(IReadOnlyList<int> promptTokens, SamplingOptions options,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var tokenizer = Info.Tokenizer;
        string reply;
        lock (_lock)
        {
            Prompts.Add(tokenizer.Decode(promptTokens));
            Options.Add(options);
            reply = _replies.Count > 0 ? _replies.Dequeue() : "";
        }
        var ids = tokenizer.Encode(reply, addSpecialTokens: false);
        var decoder = tokenizer.CreateStreamingDecoder(skipSpecialTokens: false);
        var max = options.MaxTokens ?? int.MaxValue;
        for (var i = 0; i < ids.Count; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var last = i == ids.Count - 1 || i + 1 == max;
            var text = decoder.Add(ids[i]) + (last ? decoder.Flush() : "");
            yield return new GeneratedTextToken(ids[i], text, i + 1 == max ? FinishReason.Length : null);
            if (i + 1 == max) yield break;
            if (i == 0 && Hold is { } hold) await hold.Task.WaitAsync(cancellationToken);
            await Task.Yield();
        }
        yield return new GeneratedTextToken(tokenizer.EosTokenId ?? 1, "", FinishReason.Stop);
    }
}
