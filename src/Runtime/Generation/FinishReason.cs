namespace DeepSeek.Runtime.Generation;

/// <summary>Why a generation ended.</summary>
public enum FinishReason
{
    /// <summary>A stop token (EOS or <see cref="SamplingOptions.StopTokenIds"/>) was sampled or a stop sequence appeared in the text.</summary>
    Stop,

    /// <summary><see cref="SamplingOptions.MaxTokens"/> tokens were generated or the context window is full.</summary>
    Length,

    /// <summary>The caller's cancellation token fired.</summary>
    Cancelled,

    /// <summary>The model ended its turn with one or more tool calls.</summary>
    ToolCalls,
}
