using System.Text.Json;
using static DeepSeek.Runtime.Tokenization.DeepSeekTokens;

namespace DeepSeek.Runtime.Tokenization;

/// <summary>
/// Turns DeepSeek's tool-call output into calls, streaming. The grammar is the one the V3/R1 templates render:
/// <code>
/// TEXT &lt;｜tool▁calls▁begin｜&gt;
///   &lt;｜tool▁call▁begin｜&gt;TYPE&lt;｜tool▁sep｜&gt;NAME\n```json\nARGS\n```&lt;｜tool▁call▁end｜&gt;   (repeated, optionally "\n"-separated)
/// &lt;｜tool▁calls▁end｜&gt; TEXT
/// </code>
/// Text outside the block is passed through as <see cref="ToolCallText"/> (markers cut across chunks are held back, never
/// emitted as text); each call becomes a <see cref="ToolCallParsed"/> once its <c>&lt;｜tool▁call▁end｜&gt;</c> arrives.
/// Whitespace around the JSON fence is tolerated and a block may also open directly with <c>&lt;｜tool▁call▁begin｜&gt;</c>.
/// Anything malformed (no separator, empty name, arguments that are not a JSON object, stray text in the block, a block or
/// call left open at <see cref="Flush"/>) is reported as a <see cref="ToolCallParseError"/>; no exception escapes for bad output.
/// The results do not depend on how the output is chunked.
/// </summary>
public sealed class ToolCallParser
{
    private static readonly string[] BlockMarkers = [ToolCallBegin, ToolCallsEnd];

    private string _buffer = "";
    private bool _inBlock;

    /// <summary>Whether the parser is inside a tool-call block.</summary>
    public bool InToolCalls => _inBlock;

    /// <summary>Consumes a chunk and returns what it completes.</summary>
    public IReadOnlyList<ToolCallParseResult> Feed(string chunk)
    {
        ArgumentNullException.ThrowIfNull(chunk);
        var output = new List<ToolCallParseResult>();
        string text = _buffer + chunk;
        _buffer = "";
        while (text.Length > 0 && Step(ref text, output)) { }
        _buffer = text;
        return output;
    }

    /// <summary>Ends the stream: held-back text is emitted, an open block is reported. The parser is then ready for a new stream.</summary>
    public IReadOnlyList<ToolCallParseResult> Flush()
    {
        var output = new List<ToolCallParseResult>();
        string rest = _buffer;
        if (!_inBlock) AddText(output, rest);
        else if (rest.Length == 0) output.Add(new ToolCallParseError($"tool-call block not closed by {ToolCallsEnd}", ""));
        else if (rest.StartsWith(ToolCallBegin, StringComparison.Ordinal))
            output.Add(new ToolCallParseError($"tool call not terminated by {ToolCallEnd} at end of output", rest));
        else output.Add(new ToolCallParseError("unexpected text in unterminated tool-call block", rest));
        _buffer = "";
        _inBlock = false;
        return output;
    }

    /// <summary>Consumes from <paramref name="text"/>; false when the rest must wait for more input.</summary>
    private bool Step(ref string text, List<ToolCallParseResult> output)
    {
        if (!_inBlock)
        {
            var (at, marker) = Earliest(text, 0, ToolCallsBegin, ToolCallBegin);
            if (at < 0)
            {
                int hold = Markers.HeldBack(text, ToolCallsBegin, ToolCallBegin);
                AddText(output, text[..^hold]);
                text = text[^hold..];
                return false;
            }
            AddText(output, text[..at]);
            _inBlock = true;
            text = marker == ToolCallsBegin ? text[(at + marker.Length)..] : text[at..];
            return true;
        }

        text = text.TrimStart();
        if (text.Length == 0) return false;
        if (text.StartsWith(ToolCallsEnd, StringComparison.Ordinal))
        {
            _inBlock = false;
            text = text[ToolCallsEnd.Length..];
            return true;
        }
        if (text.StartsWith(ToolCallBegin, StringComparison.Ordinal))
        {
            var (end, marker) = Earliest(text, ToolCallBegin.Length, ToolCallEnd, ToolCallBegin, ToolCallsEnd);
            if (end < 0) return false;
            if (marker == ToolCallEnd)
            {
                output.Add(ParseCall(text[ToolCallBegin.Length..end], text[..(end + ToolCallEnd.Length)]));
                text = text[(end + ToolCallEnd.Length)..];
            }
            else
            {
                output.Add(new ToolCallParseError($"tool call not terminated by {ToolCallEnd}", text[..end]));
                text = text[end..];
            }
            return true;
        }
        if (ToolCallsEnd.StartsWith(text, StringComparison.Ordinal) || ToolCallBegin.StartsWith(text, StringComparison.Ordinal))
            return false;
        var (next, _) = Earliest(text, 0, BlockMarkers);
        if (next < 0) return false;
        output.Add(new ToolCallParseError($"unexpected text in tool-call block (expected {ToolCallBegin} or {ToolCallsEnd})", text[..next]));
        text = text[next..];
        return true;
    }

    private static ToolCallParseResult ParseCall(string body, string raw)
    {
        int sep = body.IndexOf(ToolSep, StringComparison.Ordinal);
        if (sep < 0) return new ToolCallParseError($"tool call has no {ToolSep}", raw);
        string type = body[..sep].Trim();
        string rest = body[(sep + ToolSep.Length)..];
        int newline = rest.IndexOf('\n', StringComparison.Ordinal);
        string name = (newline < 0 ? rest : rest[..newline]).Trim();
        string args = newline < 0 ? "" : rest[(newline + 1)..].Trim();
        if (name.Length == 0) return new ToolCallParseError("tool call has an empty function name", raw);
        if (args.StartsWith("```", StringComparison.Ordinal))
        {
            int lineEnd = args.IndexOf('\n', StringComparison.Ordinal);
            args = lineEnd < 0 ? "" : args[(lineEnd + 1)..];
            if (args.TrimEnd().EndsWith("```", StringComparison.Ordinal)) args = args.TrimEnd()[..^3];
            args = args.Trim();
        }
        if (args.Length == 0) return new ToolCallParseError($"tool call '{name}' has no arguments", raw);
        try
        {
            using var doc = JsonDocument.Parse(args);
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                return new ToolCallParseError($"arguments of '{name}' are a JSON {doc.RootElement.ValueKind}, expected an object", raw);
        }
        catch (JsonException e)
        {
            return new ToolCallParseError($"arguments of '{name}' are not valid JSON: {e.Message}", raw);
        }
        return new ToolCallParsed(new ToolCall(name, args, Id: null, Type: type.Length == 0 ? "function" : type));
    }

    private static (int At, string Marker) Earliest(string text, int from, params ReadOnlySpan<string> markers)
    {
        int best = -1;
        string found = "";
        foreach (string m in markers)
        {
            int at = text.IndexOf(m, from, StringComparison.Ordinal);
            if (at >= 0 && (best < 0 || at < best))
            {
                best = at;
                found = m;
            }
        }
        return (best, found);
    }

    private static void AddText(List<ToolCallParseResult> output, string text)
    {
        if (text.Length == 0) return;
        if (output.Count > 0 && output[^1] is ToolCallText previous) output[^1] = new ToolCallText(previous.Text + text);
        else output.Add(new ToolCallText(text));
    }
}
