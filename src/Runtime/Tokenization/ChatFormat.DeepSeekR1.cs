using System.Text;

namespace DeepSeek.Runtime.Tokenization;

/// <summary>
/// The DeepSeek-R1 template (and the DeepSeek-V3-0324 one, which differs only in its generation prompt): an assistant
/// message with a <c>tool_calls</c> key renders its content (if any) then the calls, always closing the block; other
/// assistant turns drop reasoning up to the last <c>&lt;/think&gt;</c>; tool outputs follow each other without a separator;
/// R1's generation prompt opens the reasoning with <c>&lt;think&gt;\n</c>. Like the template, the "first call" flag is never
/// reset, so a second tool-calling turn starts with <c>\n&lt;｜tool▁call▁begin｜&gt;</c>.
/// </summary>
internal sealed class DeepSeekR1ChatFormat : IChatFormat
{
    private readonly string _bos;

    public DeepSeekR1ChatFormat(string family, string bos, string generationPrompt)
    {
        Family = family;
        _bos = bos;
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
        sb.Append(DeepSeekChat.SystemPrompt(messages, concatenate: true));
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
                case ChatRole.Assistant when m.ToolCalls is not null:
                    isTool = false;
                    foreach (var call in m.ToolCalls)
                    {
                        if (!isFirst)
                        {
                            sb.Append(DeepSeekTokens.Assistant).Append(m.Content).Append(DeepSeekTokens.ToolCallsBegin).Append(DeepSeekTokens.ToolCallBegin);
                            isFirst = true;
                        }
                        else
                        {
                            sb.Append('\n').Append(DeepSeekTokens.ToolCallBegin);
                        }
                        DeepSeekChat.AppendCall(sb, call);
                    }
                    sb.Append(DeepSeekTokens.ToolCallsEnd).Append(DeepSeekTokens.EndOfSentence);
                    break;
                case ChatRole.Assistant:
                    string content = DeepSeekChat.Content(m, i);
                    if (isTool)
                    {
                        sb.Append(DeepSeekTokens.ToolOutputsEnd).Append(content).Append(DeepSeekTokens.EndOfSentence);
                        isTool = false;
                    }
                    else
                    {
                        sb.Append(DeepSeekTokens.Assistant).Append(DeepSeekChat.AfterThink(content)).Append(DeepSeekTokens.EndOfSentence);
                    }
                    break;
                case ChatRole.Tool:
                    isTool = true;
                    if (isOutputFirst) sb.Append(DeepSeekTokens.ToolOutputsBegin);
                    sb.Append(DeepSeekTokens.ToolOutputBegin).Append(DeepSeekChat.Content(m, i)).Append(DeepSeekTokens.ToolOutputEnd);
                    isOutputFirst = false;
                    break;
            }
        }
        if (isTool) sb.Append(DeepSeekTokens.ToolOutputsEnd);
        if (options.AddGenerationPrompt && !isTool) sb.Append(GenerationPrompt);
        return sb.ToString();
    }
}
