using Microsoft.Extensions.AI;

namespace DeepSeek.Server.Protocol;

/// <summary>A validated <c>POST /v1/chat/completions</c> body, in Microsoft.Extensions.AI terms.</summary>
/// <param name="Model">The requested model id, echoed in every response.</param>
/// <param name="Messages">The conversation, in order.</param>
/// <param name="Options">Sampling, stop, tool and format settings; <c>ModelId</c> is <paramref name="Model"/>.</param>
/// <param name="Stream">Whether to answer with server-sent events.</param>
/// <param name="IncludeUsage">Whether a streamed answer ends with a usage chunk (<c>stream_options.include_usage</c>).</param>
internal sealed record ChatCompletionRequest(string Model, IList<ChatMessage> Messages, ChatOptions Options, bool Stream, bool IncludeUsage);
