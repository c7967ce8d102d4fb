using System.Text;

namespace DeepSeek.Runtime.Tokenization;

/// <summary>
/// The original DeepSeek-V3 template (December 2024) and the first DeepSeek-R1-Distill template (January 2025), which shares
/// its grammar: an assistant message renders tool calls only when its content is null, tool calls after the first one ever
/// rendered each close the block (<c>&lt;｜tool▁calls▁end｜&gt;&lt;｜end▁of▁sentence｜&gt;</c>) while a single call does not,
/// the "first call" flag is never reset across turns, and consecutive tool outputs are separated by a newline.
/// These quirks are the template's; rendering reproduces them so prompts match what the model saw.
/// </summary>
internal sealed class DeepSeekV3ChatFormat : IChatFormat
{
    private readonly string _bos;
    private readonly bool _concatenateSystems;
    private readonly bool _stripThink;

    /// <param name="family">Family name reported.</param>
    /// <param name="bos">The template's <c>bos_token</c>.</param>
    /// <param name="concatenateSystems">V3 joins all system messages; the first R1-Distill keeps only the last.</param>
    /// <param name="stripThink">R1-Distill drops reasoning up to the last <c>&lt;/think&gt;</c> of assistant turns.</param>
    /// <param name="generationPrompt">What <c>add_generation_prompt</c> appends.</param>
    public DeepSeekV3ChatFormat(string family, string bos, bool concatenateSystems, bool stripThink, string generationPrompt)
    {
        Family = family;
        _bos = bos;
        _concatenateSystems = concatenateSystems;
        _stripThink = stripThink;
        GenerationPrompt = generationPrompt;
    }

    public string Family { get; }

    public bool SupportsTools => false;

    public string GenerationPrompt { get; }

    public string Render(IReadOnlyList<ChatMessage> messages, ChatRenderOptions? options = null)
    {
        DeepSeekChat.CheckArguments(messages);
        options ??= ChatRenderOptions.Default;
        var sb = new StringBuilder();
        if (options.IncludeBos) sb.Append(_bos);
        sb.Append(DeepSeekChat.SystemPrompt(messages, _concatenateSystems));
        bool isFirst = false, isTool = false, isOutputFirst = true;
        for (int i = 0; i < messages.Count; i++)
        {
            var m = messages[i];
            switch (m.Role)
            {
                case ChatRole.User:
                    isTool = false;
                    sb.Append(DeepSeekTokens.User).Append(DeepSeekChat.Content(m, i));
                    break;
                case ChatRole.Assistant when m.Content is null:
                    isTool = false;
                    foreach (var call in m.ToolCalls ?? [])
                    {
                        if (!isFirst)
                        {
                            sb.Append(DeepSeekTokens.Assistant).Append(DeepSeekTokens.ToolCallsBegin).Append(DeepSeekTokens.ToolCallBegin);
                            DeepSeekChat.AppendCall(sb, call);
                            isFirst = true;
                        }
                        else
                        {
                            sb.Append('\n').Append(DeepSeekTokens.ToolCallBegin);
                            DeepSeekChat.AppendCall(sb, call);
                            sb.Append(DeepSeekTokens.ToolCallsEnd).Append(DeepSeekTokens.EndOfSentence);
                        }
                    }
                    break;
                case ChatRole.Assistant:
                    if (isTool)
                    {
                        sb.Append(DeepSeekTokens.ToolOutputsEnd).Append(m.Content).Append(DeepSeekTokens.EndOfSentence);
                        isTool = false;
                    }
                    else
                    {
                        string content = _stripThink ? DeepSeekChat.AfterThink(m.Content) : m.Content;
                        sb.Append(DeepSeekTokens.Assistant).Append(content).Append(DeepSeekTokens.EndOfSentence);
                    }
                    break;
                case ChatRole.Tool:
                    isTool = true;
                    sb.Append(isOutputFirst ? DeepSeekTokens.ToolOutputsBegin + DeepSeekTokens.ToolOutputBegin : "\n" + DeepSeekTokens.ToolOutputBegin)
                      .Append(DeepSeekChat.Content(m, i)).Append(DeepSeekTokens.ToolOutputEnd);
                    isOutputFirst = false;
                    break;
            }
        }
        if (isTool) sb.Append(DeepSeekTokens.ToolOutputsEnd);
        if (options.AddGenerationPrompt && !isTool) sb.Append(GenerationPrompt);
        return sb.ToString();
    }
}
