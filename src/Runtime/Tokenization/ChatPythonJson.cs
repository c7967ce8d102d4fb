using System.Globalization;
using System.Text;
using System.Text.Json;

namespace DeepSeek.Runtime.Tokenization;

/// <summary>
/// Re-serialises JSON text the way Python's <c>json.dumps(json.loads(text), ensure_ascii=False)</c> does, which is what
/// transformers' <c>tojson</c> filter writes: <c>", "</c> and <c>": "</c> separators, keys in order (a repeated key keeps its
/// first position and its last value), non-ASCII kept, integers verbatim, other numbers as Python's float <c>repr</c>.
/// </summary>
internal static class PythonJson
{
    public static string Dumps(string json, string what)
    {
        ArgumentNullException.ThrowIfNull(json);
        try
        {
            using var doc = JsonDocument.Parse(json);
            var sb = new StringBuilder(json.Length + 16);
            Write(sb, doc.RootElement);
            return sb.ToString();
        }
        catch (JsonException e)
        {
            throw new ArgumentException($"{what} is not valid JSON: {e.Message}", nameof(json), e);
        }
    }

    private static void Write(StringBuilder sb, JsonElement e)
    {
        switch (e.ValueKind)
        {
            case JsonValueKind.Object:
                var members = new List<KeyValuePair<string, JsonElement>>();
                foreach (var p in e.EnumerateObject())
                {
                    int at = members.FindIndex(kv => kv.Key == p.Name);
                    if (at >= 0) members[at] = new(p.Name, p.Value);
                    else members.Add(new(p.Name, p.Value));
                }
                sb.Append('{');
                for (int i = 0; i < members.Count; i++)
                {
                    if (i > 0) sb.Append(", ");
                    WriteString(sb, members[i].Key);
                    sb.Append(": ");
                    Write(sb, members[i].Value);
                }
                sb.Append('}');
                break;
            case JsonValueKind.Array:
                sb.Append('[');
                bool first = true;
                foreach (var item in e.EnumerateArray())
                {
                    if (!first) sb.Append(", ");
                    first = false;
                    Write(sb, item);
                }
                sb.Append(']');
                break;
            case JsonValueKind.String:
                WriteString(sb, e.GetString()!);
                break;
            case JsonValueKind.Number:
                sb.Append(Number(e.GetRawText()));
                break;
            case JsonValueKind.True:
                sb.Append("true");
                break;
            case JsonValueKind.False:
                sb.Append("false");
                break;
            default:
                sb.Append("null");
                break;
        }
    }

    private static void WriteString(StringBuilder sb, string s)
    {
        sb.Append('"');
        foreach (char c in s)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                case '\b': sb.Append("\\b"); break;
                case '\f': sb.Append("\\f"); break;
                default:
                    if (c < 0x20) sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    else sb.Append(c);
                    break;
            }
        }
        sb.Append('"');
    }

    /// <summary>An integer literal stays as written (Python ints are unbounded; <c>-0</c> is <c>0</c>); others become floats.</summary>
    internal static string Number(string raw)
    {
        if (raw.AsSpan().IndexOfAny('.', 'e', 'E') < 0)
            return raw == "-0" ? "0" : raw;
        double d = double.Parse(raw, NumberStyles.Float, CultureInfo.InvariantCulture);
        return FloatRepr(d);
    }

    /// <summary>Python's <c>repr(float)</c>: shortest round-trip digits, fixed for exponents -4..15, else <c>d.ddde±XX</c>.</summary>
    internal static string FloatRepr(double d)
    {
        if (double.IsPositiveInfinity(d)) return "Infinity";
        if (double.IsNegativeInfinity(d)) return "-Infinity";
        if (double.IsNaN(d)) return "NaN";
        // Shortest round-trip digits ("R"), normalised to a digit string and a decimal point position.
        string shortest = d.ToString("R", CultureInfo.InvariantCulture);
        bool negative = shortest.StartsWith('-') || (d == 0 && double.IsNegative(d));
        string body = shortest.TrimStart('-');
        int exp = 0;
        int ePos = body.IndexOfAny(['E', 'e']);
        if (ePos >= 0)
        {
            exp = int.Parse(body[(ePos + 1)..], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
            body = body[..ePos];
        }
        int dot = body.IndexOf('.', StringComparison.Ordinal);
        string intPart = dot < 0 ? body : body[..dot];
        string fracPart = dot < 0 ? "" : body[(dot + 1)..];
        string digits = (intPart + fracPart).TrimStart('0');
        int leadingZeros = (intPart + fracPart).Length - (intPart + fracPart).TrimStart('0').Length;
        // value = 0.digits * 10^(pointPos) where pointPos counts from the start of 'digits'
        int pointPos = intPart.Length + exp - leadingZeros;
        digits = digits.TrimEnd('0');
        if (digits.Length == 0) return negative ? "-0.0" : "0.0";
        int sciExp = pointPos - 1;
        var sb = new StringBuilder();
        if (negative) sb.Append('-');
        if (sciExp >= -4 && sciExp < 16)
        {
            if (pointPos <= 0) sb.Append("0.").Append('0', -pointPos).Append(digits);
            else if (pointPos >= digits.Length) sb.Append(digits).Append('0', pointPos - digits.Length).Append(".0");
            else sb.Append(digits, 0, pointPos).Append('.').Append(digits, pointPos, digits.Length - pointPos);
        }
        else
        {
            sb.Append(digits[0]);
            if (digits.Length > 1) sb.Append('.').Append(digits, 1, digits.Length - 1);
            sb.Append('e').Append(sciExp < 0 ? '-' : '+').Append(Math.Abs(sciExp).ToString("00", CultureInfo.InvariantCulture));
        }
        return sb.ToString();
    }
}
