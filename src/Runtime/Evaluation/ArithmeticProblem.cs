using System.Globalization;
using System.Text;

namespace DeepSeek.Runtime.Evaluation;

/// <summary>The operations of the arithmetic task.</summary>
public enum ArithmeticOperation
{
    /// <summary><c>a + b</c>.</summary>
    Add,

    /// <summary><c>a - b</c> (the answer may be negative).</summary>
    Subtract,

    /// <summary><c>a * m</c> with a one-digit multiplier <c>m</c>.</summary>
    MultiplyByDigit,
}

/// <summary>
/// One word-free arithmetic problem with its column-wise reasoning trace, rendered in the R1 shape: the reasoning inside
/// <c>&lt;think&gt;…&lt;/think&gt;</c>, then the answer.
/// </summary>
/// <remarks>
/// The trace is a scratchpad a small transformer can follow with local reads only: every line does one column and then
/// rewrites the state — what is left of each operand (last digit removed) and the result so far — so the next column's
/// digits are always the last digits before the separators of the line above. For <c>4821 + 937</c>:
/// <code>
/// 4821+937
/// 1+7+0=8 482+93=8
/// 2+3+0=5 48+9=58
/// 8+9+0=17 4+=758
/// 4+0+1=5 +=5758
/// </code>
/// The third term is the carry (a two-digit sum carries 1). Subtraction writes a borrowed digit with its ten
/// (<c>12-7-0=5</c>: the next column borrows 1) and works on the larger operand first, negating at the end; multiplication
/// by one digit carries the tens digit of <c>x*m+c</c>.
/// </remarks>
public sealed record ArithmeticProblem(long A, ArithmeticOperation Operation, long B)
{
    /// <summary>The operator as written in questions and traces.</summary>
    public char Operator => Operation switch
    {
        ArithmeticOperation.Add => '+',
        ArithmeticOperation.Subtract => '-',
        _ => '*',
    };

    /// <summary>The exact result.</summary>
    public long Result => Operation switch
    {
        ArithmeticOperation.Add => A + B,
        ArithmeticOperation.Subtract => A - B,
        _ => A * B,
    };

    /// <summary>The answer as the model must write it.</summary>
    public string Answer => Result.ToString(CultureInfo.InvariantCulture);

    /// <summary>The question in its canonical phrasing (<c>What is 4821 + 937?</c>).</summary>
    public string Question => Phrase(0);

    /// <summary>
    /// The question in one of <see cref="Phrasings"/> ways of asking it; training mixes them so users need not hit one
    /// exact wording.
    /// </summary>
    public string Phrase(int phrasing) => (phrasing % Phrasings) switch
    {
        0 => $"What is {A} {Operator} {B}?",
        1 => $"{A} {Operator} {B} = ?",
        2 => $"Calculate {A} {Operator} {B}.",
        _ => $"What is {A}{Operator}{B}?",
    };

    /// <summary>How many phrasings <see cref="Phrase"/> knows.</summary>
    public const int Phrasings = 4;

    /// <summary>The reasoning (the text between <c>&lt;think&gt;\n</c> and <c>&lt;/think&gt;</c>), each line ending in a newline.</summary>
    public string Reasoning
    {
        get
        {
            var sb = new StringBuilder();
            switch (Operation)
            {
                case ArithmeticOperation.Add:
                    sb.Append(A).Append('+').Append(B).Append('\n');
                    AddColumns(sb, Digits(A), Digits(B));
                    break;
                case ArithmeticOperation.Subtract:
                    sb.Append(A).Append('-').Append(B);
                    if (A < B) sb.Append("=-(").Append(B).Append('-').Append(A).Append(')');
                    sb.Append('\n');
                    SubtractColumns(sb, Digits(Math.Max(A, B)), Digits(Math.Min(A, B)));
                    break;
                default:
                    sb.Append(A).Append('*').Append(B).Append('\n');
                    MultiplyColumns(sb, Digits(A), (int)B);
                    break;
            }
            return sb.ToString();
        }
    }

    /// <summary>
    /// What the model writes after the R1 generation prompt (<c>&lt;｜Assistant｜&gt;&lt;think&gt;\n</c>): the reasoning,
    /// <c>&lt;/think&gt;</c>, a blank line and the answer sentence (the end-of-sentence token is the tokenizer's).
    /// </summary>
    public string Completion => $"{Reasoning}</think>\n\n{A} {Operator} {B} = {Answer}";

    /// <summary>Digits in the larger operand (the problem's length, as the evaluation tables count it).</summary>
    public int Length => Math.Max(Digits(A).Length, Operation == ArithmeticOperation.MultiplyByDigit ? 1 : Digits(B).Length);

    private static string Digits(long v) => v.ToString(CultureInfo.InvariantCulture);

    private static void AddColumns(StringBuilder sb, string a, string b)
    {
        var result = "";
        var carry = 0;
        while (a.Length > 0 || b.Length > 0 || carry > 0)
        {
            int x = Last(a), y = Last(b), s = x + y + carry;
            a = Drop(a);
            b = Drop(b);
            result = (char)('0' + s % 10) + result;
            sb.Append(x).Append('+').Append(y).Append('+').Append(carry).Append('=').Append(s)
              .Append(' ').Append(a).Append('+').Append(b).Append('=').Append(result).Append('\n');
            carry = s / 10;
        }
    }

    private static void SubtractColumns(StringBuilder sb, string a, string b)
    {
        // a ≥ b, so the last borrow is always 0 and the loop ends with both operands used up.
        var result = "";
        var borrow = 0;
        while (a.Length > 0)
        {
            int x = Last(a), y = Last(b), d = x - y - borrow;
            var borrowed = d < 0;
            if (borrowed) d += 10;
            a = Drop(a);
            b = Drop(b);
            result = (char)('0' + d) + result;
            if (borrowed) sb.Append('1');
            sb.Append(x).Append('-').Append(y).Append('-').Append(borrow).Append('=').Append(d)
              .Append(' ').Append(a).Append('-').Append(b).Append('=').Append(result).Append('\n');
            borrow = borrowed ? 1 : 0;
        }
    }

    private static void MultiplyColumns(StringBuilder sb, string a, int m)
    {
        var result = "";
        var carry = 0;
        while (a.Length > 0 || carry > 0)
        {
            int x = Last(a), s = x * m + carry;
            a = Drop(a);
            result = (char)('0' + s % 10) + result;
            sb.Append(x).Append('*').Append(m).Append('+').Append(carry).Append('=').Append(s)
              .Append(' ').Append(a).Append('=').Append(result).Append('\n');
            carry = s / 10;
        }
    }

    private static int Last(string digits) => digits.Length == 0 ? 0 : digits[^1] - '0';

    private static string Drop(string digits) => digits.Length == 0 ? digits : digits[..^1];
}
