using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Model;
using DeepSeek.Runtime.Tests.Checkpoints;
using DeepSeek.Runtime.Training.Ops;

namespace DeepSeek.Runtime.Tests.Training;

/// <summary>
/// Every op's backward against central finite differences in float64. The scalar checked is L = ⟨y, G⟩ for a fixed
/// random G (so dL/dy = G); each input element is nudged by ±h and the slope compared with the analytic gradient.
/// </summary>
public class GradientCheckTests
{
    private const double H = 1e-6;
    private const double Tolerance = 1e-6;

    private static double[] Random(int n, int seed, double scale = 1)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => (rng.NextDouble() * 2 - 1) * scale).ToArray();
    }

    private static double Dot(double[] a, double[] b) => a.Zip(b, (x, y) => x * y).Sum();

    /// <summary>Checks <paramref name="analytic"/> = dL/d<paramref name="input"/> by finite differences of <paramref name="loss"/>.</summary>
    private static void Check(string what, double[] input, double[] analytic, Func<double> loss)
    {
        Assert.Equal(input.Length, analytic.Length);
        var worst = 0.0;
        for (var i = 0; i < input.Length; i++)
        {
            var keep = input[i];
            input[i] = keep + H;
            var up = loss();
            input[i] = keep - H;
            var down = loss();
            input[i] = keep;
            var numeric = (up - down) / (2 * H);
            var err = Math.Abs(numeric - analytic[i]) / Math.Max(1, Math.Abs(numeric));
            worst = Math.Max(worst, err);
            Assert.True(err <= Tolerance, $"{what}[{i}]: analytic {analytic[i]}, numeric {numeric}");
        }
        Assert.True(analytic.Any(g => Math.Abs(g) > 1e-3), $"{what}: gradient is all but zero; the check would prove nothing");
        _ = worst;
    }

    [Theory]
    [InlineData(1, 1, 1)]
    [InlineData(3, 5, 4)]
    [InlineData(2, 7, 9)]
    public void Linear(int tokens, int inputs, int outputs)
    {
        var x = Random(tokens * inputs, 1);
        var w = Random(outputs * inputs, 2);
        var b = Random(outputs, 3);
        var g = Random(tokens * outputs, 4);
        double Loss()
        {
            var y = new double[tokens * outputs];
            LinearOp.Forward<double>(x, w, b, y, tokens, inputs, outputs);
            return Dot(y, g);
        }
        var dx = new double[x.Length];
        var dw = new double[w.Length];
        var db = new double[b.Length];
        LinearOp.Backward<double>(g, x, w, dx, dw, db, tokens, inputs, outputs);
        Check("dx", x, dx, Loss);
        Check("dw", w, dw, Loss);
        Check("db", b, db, Loss);
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(3, 8)]
    [InlineData(2, 13)]
    public void RmsNorm(int rows, int dim)
    {
        var x = Random(rows * dim, 5, 2);
        var w = Random(dim, 6);
        var g = Random(rows * dim, 7);
        double Loss()
        {
            var y = new double[rows * dim];
            RmsNormOp.Forward<double>(x, w, 1e-6, y, new double[rows], rows, dim);
            return Dot(y, g);
        }
        var rstd = new double[rows];
        RmsNormOp.Forward<double>(x, w, 1e-6, new double[rows * dim], rstd, rows, dim);
        var dx = new double[x.Length];
        var dw = new double[w.Length];
        RmsNormOp.Backward<double>(g, x, w, rstd, dx, dw, rows, dim);
        if (dim > 1) Check("dx", x, dx, Loss);
        Check("dw", w, dw, Loss);
    }

    [Fact]
    public void SwiGlu()
    {
        var gate = Random(17, 8, 4);
        var up = Random(17, 9);
        var g = Random(17, 10);
        double Loss()
        {
            var h = new double[17];
            SwiGluOp.Forward<double>(gate, up, h);
            return Dot(h, g);
        }
        var dgate = new double[17];
        var dup = new double[17];
        SwiGluOp.Backward<double>(g, gate, up, dgate, dup);
        Check("dgate", gate, dgate, Loss);
        Check("dup", up, dup, Loss);
    }

    [Theory]
    [InlineData(RopeLayout.Interleaved)]
    [InlineData(RopeLayout.Half)]
    public void Rope(RopeLayout layout)
    {
        const int rows = 4, heads = 2, headDim = 10, offset = 2;
        var table = RopeTable.Create(8, 10000, null, 16, layout);
        int[] positions = [0, 3, 7, 15];
        var x = Random(rows * heads * headDim, 11);
        var g = Random(x.Length, 12);
        double Loss()
        {
            var y = (double[])x.Clone();
            RopeOp.Forward<double>(y, rows, heads, headDim, offset, positions, table);
            return Dot(y, g);
        }
        var dx = (double[])g.Clone();
        RopeOp.Backward<double>(dx, rows, heads, headDim, offset, positions, table);
        Check("dx", x, dx, Loss);
    }

    [Theory]
    [InlineData(1, 1, 1, 3, 2)]
    [InlineData(5, 2, 2, 4, 3)]
    [InlineData(6, 4, 2, 3, 5)]
    public void CausalAttention(int tokens, int heads, int kvHeads, int qkDim, int vDim)
    {
        var q = Random(tokens * heads * qkDim, 13);
        var k = Random(tokens * kvHeads * qkDim, 14);
        var v = Random(tokens * kvHeads * vDim, 15);
        var g = Random(tokens * heads * vDim, 16);
        const double scale = 0.6;
        double Loss()
        {
            var o = new double[tokens * heads * vDim];
            AttentionOp.Forward<double>(q, k, v, o, new double[heads * tokens * tokens], tokens, heads, kvHeads, qkDim, vDim, scale);
            return Dot(o, g);
        }
        var probs = new double[heads * tokens * tokens];
        AttentionOp.Forward<double>(q, k, v, new double[tokens * heads * vDim], probs, tokens, heads, kvHeads, qkDim, vDim, scale);
        var dq = new double[q.Length];
        var dk = new double[k.Length];
        var dv = new double[v.Length];
        AttentionOp.Backward<double>(g, q, k, v, probs, dq, dk, dv, tokens, heads, kvHeads, qkDim, vDim, scale);
        if (tokens > 1) Check("dq", q, dq, Loss);
        if (tokens > 1) Check("dk", k, dk, Loss);
        Check("dv", v, dv, Loss);
    }

    [Fact]
    public void Embedding_scatters_into_the_rows_it_read()
    {
        const int dim = 3;
        var table = Random(5 * dim, 17);
        int[] ids = [4, 1, 4];
        var g = Random(ids.Length * dim, 18);
        double Loss()
        {
            var y = new double[ids.Length * dim];
            EmbeddingOp.Forward<double>(ids, table, y, dim);
            return Dot(y, g);
        }
        var dtable = new double[table.Length];
        EmbeddingOp.Backward<double>(ids, g, dtable, dim);
        Check("dtable", table, dtable, Loss);
        Assert.All(dtable[..dim].Concat(dtable[(2 * dim)..(4 * dim)]), v => Assert.Equal(0, v));
    }

    [Fact]
    public void Cross_entropy_with_ignored_positions()
    {
        const int vocab = 7;
        var logits = Random(4 * vocab, 19, 3);
        int[] targets = [2, CrossEntropyOp.IgnoreIndex, 6, 0];
        double Loss() => CrossEntropyOp.ForwardBackward<double>(logits, targets, new double[logits.Length], vocab, 0.3);
        var d = new double[logits.Length];
        var loss = CrossEntropyOp.ForwardBackward<double>(logits, targets, d, vocab, 0.3);
        Check("dlogits", logits, d, Loss);
        Assert.All(d[vocab..(2 * vocab)], v => Assert.Equal(0, v));

        // The value itself: mean of −log p(target) over the 3 counted rows, times the weight.
        double expected = 0;
        foreach (var r in new[] { 0, 2, 3 })
        {
            var row = logits[(r * vocab)..((r + 1) * vocab)];
            expected += Math.Log(row.Sum(Math.Exp)) - row[targets[r]];
        }
        Assert.Equal(0.3 * expected / 3, loss, 12);
    }
}

public class MoeGateGradientTests
{
    [Theory]
    [InlineData(true, true)]    // V3: sigmoid + norm_topk_prob
    [InlineData(false, false)]  // V2-Lite: softmax, no normalisation
    [InlineData(false, true)]
    [InlineData(true, false)]
    public void Router_weights_backward_matches_finite_differences(bool sigmoid, bool norm)
    {
        var config = ModelConfig.Parse(ConfigFixtures.TinyV3) with
        {
            ScoringFunc = sigmoid ? ScoringFunction.Sigmoid : ScoringFunction.Softmax,
            NormTopKProb = norm,
            RoutedScalingFactor = 2.5,
        };
        const int tokens = 3;
        int n = config.NRoutedExperts, k = config.NumExpertsPerTok;
        var rng = new Random(20);
        var logits = Enumerable.Range(0, tokens * n).Select(_ => rng.NextDouble() * 4 - 2).ToArray();
        int[] ids = [1, 6, 0, 3, 7, 2];
        var g = Enumerable.Range(0, tokens * k).Select(_ => rng.NextDouble() * 2 - 1).ToArray();
        double Loss()
        {
            var w = new double[tokens * k];
            MoeGateOp.Forward<double>(config, logits, ids, w, tokens);
            return w.Zip(g, (a, b) => a * b).Sum();
        }
        var dl = new double[logits.Length];
        MoeGateOp.Backward<double>(config, logits, ids, g, dl, tokens);
        for (var i = 0; i < logits.Length; i++)
        {
            var keep = logits[i];
            logits[i] = keep + 1e-6;
            var up = Loss();
            logits[i] = keep - 1e-6;
            var down = Loss();
            logits[i] = keep;
            Assert.Equal((up - down) / 2e-6, dl[i], 6);
        }
        Assert.Contains(dl, v => Math.Abs(v) > 1e-3);
    }
}
