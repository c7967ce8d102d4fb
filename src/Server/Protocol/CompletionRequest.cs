using System.Text.Json;
using DeepSeek.Runtime.Generation;
using static DeepSeek.Server.Protocol.JsonFields;

namespace DeepSeek.Server.Protocol;

/// <summary>A parsed <c>POST /v1/completions</c> body: a raw prompt (no chat template) and sampling.</summary>
/// <param name="Model">Requested model id.</param>
/// <param name="PromptText">Prompt text, encoded with the model's tokenizer (BOS as its config says); null when ids were given.</param>
/// <param name="PromptTokens">Prompt token ids fed as given; null when text was given.</param>
/// <param name="Sampling">Sampling and limits (OpenAI's default of 16 tokens when <c>max_tokens</c> is absent).</param>
/// <param name="Stream">Whether to answer with server-sent events.</param>
/// <param name="IncludeUsage">Whether a streamed answer ends with a usage chunk.</param>
internal sealed record CompletionRequest(string Model, string? PromptText, int[]? PromptTokens, SamplingOptions Sampling, bool Stream, bool IncludeUsage)
{
    /// <summary>OpenAI's <c>max_tokens</c> default for legacy completions.</summary>
    public const int DefaultMaxTokens = 16;

    public static CompletionRequest Parse(JsonElement body)
    {
        if (body.ValueKind != JsonValueKind.Object) throw OpenAIRequestException.Invalid("The request body must be a JSON object.");
        var model = RequiredString(body, "model", "model");
        if (!TryGet(body, "prompt", out var prompt)) throw OpenAIRequestException.Invalid("Missing required parameter: 'prompt'.", "prompt");
        string? text = null;
        int[]? tokens = null;
        switch (prompt.ValueKind)
        {
            case JsonValueKind.String:
                text = prompt.GetString();
                break;
            case JsonValueKind.Array when prompt.GetArrayLength() > 0 && prompt.EnumerateArray().All(e => e.ValueKind == JsonValueKind.Number):
                tokens = prompt.EnumerateArray().Select(e => e.TryGetInt32(out var id) ? id : throw WrongType("prompt", "token ids", e)).ToArray();
                break;
            case JsonValueKind.Array when prompt.GetArrayLength() == 1 && prompt[0].ValueKind == JsonValueKind.String:
                text = prompt[0].GetString();
                break;
            default:
                throw OpenAIRequestException.Invalid("'prompt' must be a string, a one-element array of strings, or an array of token ids (batches of prompts are not supported).", "prompt");
        }
        if (text is { Length: 0 }) throw OpenAIRequestException.Invalid("'prompt' is empty.", "prompt");
        if (Integer(body, "n", 1) is > 1) throw OpenAIRequestException.Invalid("Only n = 1 is supported.", "n", "unsupported_value");
        if (Bool(body, "echo", "echo") == true) throw OpenAIRequestException.Invalid("'echo' is not supported.", "echo", "unsupported_value");
        if (TryGet(body, "logprobs", out var lp) && lp.ValueKind != JsonValueKind.Null) throw OpenAIRequestException.Invalid("'logprobs' is not supported.", "logprobs", "unsupported_value");

        var temperature = Number(body, "temperature", 0, 2) ?? 1.0;
        var sampling = new SamplingOptions
        {
            Temperature = temperature,
            TopP = Number(body, "top_p", 0, 1, minExclusive: true) ?? 1.0,
            FrequencyPenalty = Number(body, "frequency_penalty", -2, 2) ?? 0,
            PresencePenalty = Number(body, "presence_penalty", -2, 2) ?? 0,
            Seed = Integer(body, "seed", long.MinValue),
            MaxTokens = (int)Math.Min(Integer(body, "max_tokens", 1) ?? DefaultMaxTokens, int.MaxValue),
            StopSequences = ChatRequestParser.Stop(body) ?? [],
        };
        var stream = Bool(body, "stream", "stream") ?? false;
        var includeUsage = stream && TryGet(body, "stream_options", out var so) && so.ValueKind == JsonValueKind.Object && (Bool(so, "include_usage", "stream_options.include_usage") ?? false);
        return new CompletionRequest(model, text, tokens, sampling, stream, includeUsage);
    }
}
