using System.Text.Json;
using DeepSeek.Runtime.Tokenization;

namespace DeepSeek.Runtime.Training.Sft;

/// <summary>A JSONL line that cannot be used for training; the message names the file and line.</summary>
public sealed class TrainingDataException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// Supervised fine-tuning data from JSONL, one example per line, in any of four shapes:
/// <c>{"tokens":[…]}</c> (pre-tokenised, loss on every position), <c>{"text":…}</c> (loss on every position),
/// <c>{"prompt":…,"completion":…}</c> (loss on the completion), <c>{"messages":[…]}</c> (rendered with the model's chat
/// format; loss on the assistant turns only). Every example becomes exactly <c>sequenceLength</c> tokens: longer ones are
/// cut, shorter ones padded with masked positions.
/// </summary>
public static class SftDataset
{
    /// <summary>Reads <paramref name="path"/>; a tokenizer (and chat format for messages) is needed for the text shapes.</summary>
    public static IReadOnlyList<TrainingSequence> Load(string path, int sequenceLength, BpeTokenizer? tokenizer = null, IChatFormat? chatFormat = null, int padToken = 0)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(sequenceLength, 2);
        var examples = new List<TrainingSequence>();
        var lineNumber = 0;
        foreach (var line in File.ReadLines(path))
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            try
            {
                using var doc = JsonDocument.Parse(line);
                var (tokens, counts) = Parse(doc.RootElement, tokenizer, chatFormat);
                examples.Add(Fit(tokens, counts, sequenceLength, padToken));
            }
            catch (Exception e) when (e is JsonException or TrainingDataException or ArgumentException or InvalidOperationException)
            {
                throw new TrainingDataException($"{path}:{lineNumber}: {e.Message}", e);
            }
        }
        if (examples.Count == 0) throw new TrainingDataException($"{path}: no examples");
        return examples;
    }

    /// <summary>Token ids and, per token, whether it is a target the loss counts (token i counts ⇒ position i−1 predicts it).</summary>
    private static (List<int> Tokens, List<bool> Counts) Parse(JsonElement e, BpeTokenizer? tokenizer, IChatFormat? chat)
    {
        if (e.ValueKind != JsonValueKind.Object) throw new TrainingDataException("a line must be a JSON object");
        if (e.TryGetProperty("tokens", out var ids))
        {
            if (ids.ValueKind != JsonValueKind.Array) throw new TrainingDataException("'tokens' must be an array of ids");
            var tokens = ids.EnumerateArray().Select(i => i.TryGetInt32(out var v) && v >= 0 ? v : throw new TrainingDataException($"'tokens' holds '{i}', not a token id")).ToList();
            return (tokens, tokens.Select(_ => true).ToList());
        }
        var tok = tokenizer ?? throw new TrainingDataException("text examples need the model's tokenizer.json");
        if (e.TryGetProperty("text", out var text))
        {
            var tokens = tok.Encode(String(text, "text"), addSpecialTokens: true).ToList();
            return (tokens, tokens.Select(_ => true).ToList());
        }
        if (e.TryGetProperty("prompt", out var prompt) && e.TryGetProperty("completion", out var completion))
        {
            var head = tok.Encode(String(prompt, "prompt"), addSpecialTokens: true);
            var tail = tok.Encode(String(completion, "completion"), addSpecialTokens: false);
            return ([.. head, .. tail], [.. head.Select(_ => false), .. tail.Select(_ => true)]);
        }
        if (e.TryGetProperty("messages", out var messages)) return Chat(messages, tok, chat ?? throw new TrainingDataException("chat examples need the model's tokenizer_config.json"));
        throw new TrainingDataException("expected one of: tokens, text, prompt+completion, messages");
    }

    /// <summary>Loss on each assistant turn: the tokens the template adds after the generation prompt up to the turn's end.</summary>
    private static (List<int>, List<bool>) Chat(JsonElement messages, BpeTokenizer tokenizer, IChatFormat chat)
    {
        if (messages.ValueKind != JsonValueKind.Array) throw new TrainingDataException("'messages' must be an array");
        var list = messages.EnumerateArray().Select(ParseMessage).ToList();
        if (!list.Any(m => m.Role == ChatRole.Assistant)) throw new TrainingDataException("a chat example needs at least one assistant message to learn from");
        var tokens = tokenizer.Encode(chat.Render(list, new ChatRenderOptions { AddGenerationPrompt = false }));
        var counts = new bool[tokens.Count];
        for (var i = 0; i < list.Count; i++)
        {
            if (list[i].Role != ChatRole.Assistant) continue;
            var start = tokenizer.Encode(chat.Render(list.Take(i).ToList(), new ChatRenderOptions { AddGenerationPrompt = true }));
            var end = tokenizer.Encode(chat.Render(list.Take(i + 1).ToList(), new ChatRenderOptions { AddGenerationPrompt = false }));
            if (!IsPrefix(start, end) || !IsPrefix(end, tokens))
                throw new TrainingDataException($"message {i}: the rendered conversation does not tokenize as a prefix of itself, so the assistant turn cannot be located");
            for (var t = start.Count; t < end.Count; t++) counts[t] = true;
        }
        return ([.. tokens], [.. counts]);
    }

    private static bool IsPrefix(IReadOnlyList<int> a, IReadOnlyList<int> b) => a.Count <= b.Count && a.Select((v, i) => v == b[i]).All(x => x);

    private static ChatMessage ParseMessage(JsonElement m)
    {
        var role = String(m.GetProperty("role"), "role") switch
        {
            "system" => ChatRole.System,
            "user" => ChatRole.User,
            "assistant" => ChatRole.Assistant,
            "tool" => ChatRole.Tool,
            var r => throw new TrainingDataException($"unknown role '{r}'"),
        };
        var content = m.TryGetProperty("content", out var c) && c.ValueKind == JsonValueKind.String ? c.GetString() : null;
        return new ChatMessage(role, content);
    }

    private static string String(JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.String ? e.GetString()! : throw new TrainingDataException($"'{name}' must be a string");

    /// <summary>Cuts or pads to <paramref name="length"/>; padding is never a target.</summary>
    private static TrainingSequence Fit(List<int> tokens, List<bool> counts, int length, int pad)
    {
        if (tokens.Count < 2) throw new TrainingDataException("an example needs at least 2 tokens");
        var ids = new int[length];
        var mask = new bool[length];   // mask[t]: position t's prediction of token t+1 counts
        for (var t = 0; t < length; t++)
        {
            ids[t] = t < tokens.Count ? tokens[t] : pad;
            if (t + 1 < length && t + 1 < tokens.Count) mask[t] = counts[t + 1];
        }
        if (!mask.Any(m => m)) throw new TrainingDataException($"no target token falls within the first {length} tokens");
        return new TrainingSequence(ids, mask);
    }
}
