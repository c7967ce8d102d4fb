using System.Globalization;
using DeepSeek.Runtime.Evaluation;
using Xunit;

namespace DeepSeek.Runtime.Tests.Evaluation;

public sealed class ArithmeticTaskTests
{
    [Fact]
    public void AdditionTraceIsTheDocumentedScratchpad()
    {
        var p = new ArithmeticProblem(4821, ArithmeticOperation.Add, 937);
        Assert.Equal("4821+937\n1+7+0=8 482+93=8\n2+3+0=5 48+9=58\n8+9+0=17 4+=758\n4+0+1=5 +=5758\n", p.Reasoning);
        Assert.Equal("4821+937\n1+7+0=8 482+93=8\n2+3+0=5 48+9=58\n8+9+0=17 4+=758\n4+0+1=5 +=5758\n</think>\n\n4821 + 937 = 5758", p.Completion);
    }

    [Fact]
    public void FinalCarryGetsItsOwnColumn()
    {
        Assert.Equal("95+7\n5+7+0=12 9+=2\n9+0+1=10 +=02\n0+0+1=1 +=102\n", new ArithmeticProblem(95, ArithmeticOperation.Add, 7).Reasoning);
    }

    [Fact]
    public void SubtractionWritesBorrowsAndNegatesWhenTheFirstOperandIsSmaller()
    {
        Assert.Equal("1000-999\n10-9-0=1 100-99=1\n10-9-1=0 10-9=01\n10-9-1=0 1-=001\n1-0-1=0 -=0001\n", new ArithmeticProblem(1000, ArithmeticOperation.Subtract, 999).Reasoning);
        var negative = new ArithmeticProblem(37, ArithmeticOperation.Subtract, 502);
        Assert.StartsWith("37-502=-(502-37)\n", negative.Reasoning);
        Assert.EndsWith("= -465", negative.Completion);
    }

    [Fact]
    public void MultiplicationCarriesTheTensDigit()
    {
        Assert.Equal("4821*7\n1*7+0=7 482=7\n2*7+0=14 48=47\n8*7+1=57 4=747\n4*7+5=33 =3747\n0*7+3=3 =33747\n", new ArithmeticProblem(4821, ArithmeticOperation.MultiplyByDigit, 7).Reasoning);
    }

    [Fact]
    public void EveryTraceLineIsSoundArithmeticAndTheLastStateIsTheResult()
    {
        // Replays each trace with its own digit rules, independently of how the trace was produced: every line's column sum
        // is right, the carry/borrow feeds the next line, and the final state (leading zeros dropped, sign restored) is the
        // exact result computed with 64-bit arithmetic.
        foreach (var p in ArithmeticTask.Sample(3000, seed: 5, ArithmeticSplit.Train, maxDigits: 7))
        {
            var lines = p.Reasoning.TrimEnd('\n').Split('\n');
            var negative = p.Operation == ArithmeticOperation.Subtract && p.A < p.B;
            var carry = 0;
            string state = "";
            foreach (var line in lines.Skip(1))
            {
                var (column, rest) = (line[..line.IndexOf(' ', StringComparison.Ordinal)], line[(line.IndexOf(' ', StringComparison.Ordinal) + 1)..]);
                var eq = column.Split('=');
                var value = int.Parse(eq[1], CultureInfo.InvariantCulture);
                var terms = eq[0].Split(p.Operator == '*' ? '+' : p.Operator);
                switch (p.Operation)
                {
                    case ArithmeticOperation.Add:
                        Assert.Equal(carry, int.Parse(terms[2], CultureInfo.InvariantCulture));
                        Assert.Equal(int.Parse(terms[0], CultureInfo.InvariantCulture) + int.Parse(terms[1], CultureInfo.InvariantCulture) + carry, value);
                        carry = value / 10;
                        break;
                    case ArithmeticOperation.Subtract:
                        Assert.Equal(carry, int.Parse(terms[2], CultureInfo.InvariantCulture));
                        var x = int.Parse(terms[0], CultureInfo.InvariantCulture);
                        Assert.Equal(x - int.Parse(terms[1], CultureInfo.InvariantCulture) - carry, value);
                        Assert.InRange(value, 0, 9);
                        carry = x >= 10 ? 1 : 0;
                        break;
                    default:
                        var mul = terms[0].Split('*');
                        Assert.Equal(p.B, int.Parse(mul[1], CultureInfo.InvariantCulture));
                        Assert.Equal(carry, int.Parse(terms[1], CultureInfo.InvariantCulture));
                        Assert.Equal(int.Parse(mul[0], CultureInfo.InvariantCulture) * (int)p.B + carry, value);
                        carry = value / 10;
                        break;
                }
                state = rest[(rest.LastIndexOf('=') + 1)..];
            }
            Assert.Equal(0, carry);
            var magnitude = state.TrimStart('0');
            Assert.Equal(Math.Abs(p.Result).ToString(CultureInfo.InvariantCulture), magnitude.Length == 0 ? "0" : magnitude);
            Assert.Equal(negative, p.Result < 0);
            Assert.Equal((true, true), ArithmeticTask.Grade(p, p.Completion));
        }
    }

    [Fact]
    public void HeldOutProblemsAreNeverDrawnForTraining()
    {
        var train = ArithmeticTask.Sample(20_000, seed: 1, ArithmeticSplit.Train, maxDigits: 2).ToHashSet();
        var heldOut = ArithmeticTask.Sample(1_000, seed: 2, ArithmeticSplit.HeldOut, maxDigits: 2);
        Assert.DoesNotContain(heldOut, train.Contains);
        Assert.All(heldOut, p => Assert.Equal(ArithmeticSplit.HeldOut, ArithmeticTask.SplitOf(p)));
        // About an eighth of all problems is held out (here: every 2-digit problem).
        var all = new List<ArithmeticProblem>();
        for (var a = 0; a < 100; a++)
            for (var b = 0; b < 100; b++) all.Add(new ArithmeticProblem(a, ArithmeticOperation.Add, b));
        Assert.InRange(all.Count(p => ArithmeticTask.SplitOf(p) == ArithmeticSplit.HeldOut) / (double)all.Count, 0.11, 0.14);
    }

    [Fact]
    public void SamplesAreDeterministicAndRespectTheDigitRange()
    {
        var a = ArithmeticTask.Sample(500, seed: 9, ArithmeticSplit.HeldOut, maxDigits: 5, minDigits: 5);
        Assert.Equal(a, ArithmeticTask.Sample(500, seed: 9, ArithmeticSplit.HeldOut, maxDigits: 5, minDigits: 5));
        Assert.All(a, p => Assert.Equal(5, p.Length));
        Assert.NotEqual(a, ArithmeticTask.Sample(500, seed: 10, ArithmeticSplit.HeldOut, maxDigits: 5, minDigits: 5));
        Assert.Equal(3, a.Select(p => p.Operation).Distinct().Count());
    }

    [Fact]
    public void EveryPhrasingParsesBackToItsProblem()
    {
        foreach (var p in ArithmeticTask.Sample(300, seed: 3, ArithmeticSplit.Train, maxDigits: 6))
            for (var k = 0; k < ArithmeticProblem.Phrasings; k++)
                Assert.Equal(p, ArithmeticTask.Parse(p.Phrase(k)));
        Assert.Null(ArithmeticTask.Parse("What is the capital of France?"));
        Assert.Null(ArithmeticTask.Parse("What is 12 * 34?")); // the multiplier is one digit
    }

    [Theory]
    [InlineData("4821+937\n...\n</think>\n\n4821 + 937 = 5758", true, true)]
    [InlineData("...\n</think>\n\n5758", true, true)]
    [InlineData("...\n</think>\n\n4821 + 937 = 5759", false, true)]
    [InlineData("4821+937 = 5758", false, false)]
    [InlineData("...</think>", false, false)]
    [InlineData("<think>...</think>\n\n5758", true, false)]
    [InlineData("...</think>\n5758</think>", true, false)]
    public void GradingChecksTheLastNumberAfterTheReasoning(string completion, bool correct, bool wellFormed)
    {
        Assert.Equal((correct, wellFormed), ArithmeticTask.Grade(new ArithmeticProblem(4821, ArithmeticOperation.Add, 937), completion));
    }

    [Fact]
    public void NegativeAnswersKeepTheirSign()
    {
        var p = new ArithmeticProblem(37, ArithmeticOperation.Subtract, 502);
        Assert.True(ArithmeticTask.Grade(p, "...</think>\n\n37 - 502 = -465").Correct);
        Assert.False(ArithmeticTask.Grade(p, "...</think>\n\n37 - 502 = 465").Correct);
    }
}
