namespace DeepSeek.Server.Protocol;

/// <summary>A request the server refuses, with the fields of OpenAI's error body.</summary>
internal sealed class OpenAIRequestException(int statusCode, string message, string type, string? param, string? code)
    : Exception(message)
{
    /// <summary>HTTP status to answer with.</summary>
    public int StatusCode { get; } = statusCode;

    /// <summary>OpenAI's <c>error.type</c>, e.g. <c>invalid_request_error</c>.</summary>
    public string Type { get; } = type;

    /// <summary>The request field at fault (<c>messages[2].role</c>), if any.</summary>
    public string? Param { get; } = param;

    /// <summary>OpenAI's machine-readable <c>error.code</c>, if any.</summary>
    public string? Code { get; } = code;

    /// <summary>A 400 <c>invalid_request_error</c>.</summary>
    public static OpenAIRequestException Invalid(string message, string? param = null, string? code = null) =>
        new(400, message, "invalid_request_error", param, code);
}
