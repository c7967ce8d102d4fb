using DeepSeek.Runtime.Compute.Cpu;
using DeepSeek.Runtime.Training.Ops;

namespace DeepSeek.Runtime.Tests.Training;

/// <summary>
/// The float fast paths of <see cref="LinearOp"/> and <see cref="AttentionOp"/> (packed GEMMs) against their generic
/// path run in float64 — the one the finite-difference checks hold to the math — on the same inputs: forward values,
/// probabilities and every accumulated gradient, to float rounding.
/// </summary>
public sealed class FloatOpsTests
{
    [Theory]
    [InlineData(1, 1, 1)]
    [InlineData(3, 7, 5)]
    [InlineData(5, 64, 40)]
    [InlineData(17, 33, 96)]
    [InlineData(9, 64, 384)]
    public void Linear_float_path_equals_the_float64_reference(int tokens, int inputs, int outputs)
    {
        if (!PackedGemm.IsSupported) return;
        var rng = new Random(tokens * 7 + inputs * 3 + outputs);
        var x = Values(rng, tokens * inputs);
        var w = Values(rng, outputs * inputs);
        var bias = Values(rng, outputs);
        var dy = Values(rng, tokens * outputs);
        // Gradients start non-zero: the op accumulates into them.
        var dx0 = Values(rng, tokens * inputs);
        var dw0 = Values(rng, outputs * inputs);
        var db0 = Values(rng, outputs);

        foreach (var withBias in new[] { false, true })
        {
            var y = new float[tokens * outputs];
            var yd = new double[tokens * outputs];
            LinearOp.Forward<float>(x, w, withBias ? bias : [], y, tokens, inputs, outputs);
            LinearOp.Forward<double>(D(x), D(w), withBias ? D(bias) : [], yd, tokens, inputs, outputs);
            Close("y", yd, y, inputs + 1);
        }

        float[] dx = (float[])dx0.Clone(), dw = (float[])dw0.Clone(), db = (float[])db0.Clone();
        double[] dxd = D(dx0), dwd = D(dw0), dbd = D(db0);
        LinearOp.Backward<float>(dy, x, w, dx, dw, db, tokens, inputs, outputs);
        LinearOp.Backward<double>(D(dy), D(x), D(w), dxd, dwd, dbd, tokens, inputs, outputs);
        Close("dx", dxd, dx, outputs + 1);
        Close("dW", dwd, dw, tokens + 1);
        Close("db", dbd, db, tokens + 1);

        // Empty gradient spans are skipped, and only those.
        var onlyDw = (float[])dw0.Clone();
        LinearOp.Backward<float>(dy, x, w, [], onlyDw, [], tokens, inputs, outputs);
        Assert.Equal(dw, onlyDw);
    }

    [Theory]
    [InlineData(1, 4, 4, 24, 16)]
    [InlineData(2, 4, 4, 24, 16)]
    [InlineData(7, 4, 2, 24, 16)]
    [InlineData(17, 2, 1, 7, 5)]
    [InlineData(38, 4, 4, 24, 16)]
    [InlineData(33, 3, 3, 40, 33)]
    public void Attention_float_path_equals_the_float64_reference(int tokens, int heads, int kvHeads, int qkDim, int vDim)
    {
        if (!PackedGemm.IsSupported) return;
        var rng = new Random(tokens * 31 + heads * 7 + qkDim);
        var q = Values(rng, tokens * heads * qkDim, 1.5);
        var k = Values(rng, tokens * kvHeads * qkDim, 1.5);
        var v = Values(rng, tokens * kvHeads * vDim);
        var scale = 1 / MathF.Sqrt(qkDim);

        var o = new float[tokens * heads * vDim];
        var probs = Enumerable.Repeat(float.NaN, heads * tokens * tokens).ToArray();   // stale values must not survive
        AttentionOp.Forward<float>(q, k, v, o, probs, tokens, heads, kvHeads, qkDim, vDim, scale);
        var od = new double[o.Length];
        var probsd = new double[probs.Length];
        AttentionOp.Forward<double>(D(q), D(k), D(v), od, probsd, tokens, heads, kvHeads, qkDim, vDim, scale);
        Close("probs", probsd, probs, 64);
        Close("o", od, o, tokens + 1);

        var dO = Values(rng, o.Length);
        var dq0 = Values(rng, q.Length);
        var dk0 = Values(rng, k.Length);
        var dv0 = Values(rng, v.Length);
        float[] dq = (float[])dq0.Clone(), dk = (float[])dk0.Clone(), dv = (float[])dv0.Clone();
        double[] dqd = D(dq0), dkd = D(dk0), dvd = D(dv0);
        AttentionOp.Backward<float>(dO, q, k, v, probs, dq, dk, dv, tokens, heads, kvHeads, qkDim, vDim, scale);
        AttentionOp.Backward<double>(D(dO), D(q), D(k), D(v), probsd, dqd, dkd, dvd, tokens, heads, kvHeads, qkDim, vDim, scale);
        Close("dv", dvd, dv, 4 * tokens + 1);
        Close("dq", dqd, dq, 4 * (tokens + vDim));
        Close("dk", dkd, dk, 4 * heads * (tokens + vDim));
    }

    /// <summary>|got − want| within <paramref name="terms"/> float roundings of the larger of |want| and 1.</summary>
    private static void Close(string what, double[] want, float[] got, int terms)
    {
        Assert.Equal(want.Length, got.Length);
        for (var i = 0; i < want.Length; i++)
        {
            var tolerance = terms * 6e-8 * Math.Max(1, Math.Abs(want[i]));
            Assert.True(Math.Abs(got[i] - want[i]) <= tolerance, $"{what}[{i}] = {got[i]:R}, float64 gives {want[i]:R}");
        }
    }

    private static float[] Values(Random rng, int n, double scale = 1) =>
        Enumerable.Range(0, n).Select(_ => (float)((rng.NextDouble() * 2 - 1) * scale)).ToArray();

    private static double[] D(float[] values) => values.Select(v => (double)v).ToArray();
}
