using DeepSeek.Runtime.Training.Optimization;

namespace DeepSeek.Runtime.Tests.Training;

public class OptimizationTests
{
    [Fact]
    public void AdamW_follows_the_torch_update_over_several_steps()
    {
        var options = new AdamWOptions { Beta1 = 0.8, Beta2 = 0.9, Epsilon = 1e-3, WeightDecay = 0.05 };
        float[] p = [0.5f, -1.25f, 2f];
        var m = new float[3];
        var v = new float[3];
        double[] rp = [0.5, -1.25, 2], rm = new double[3], rv = new double[3];
        var rng = new Random(3);
        for (var t = 1; t <= 5; t++)
        {
            var g = Enumerable.Range(0, 3).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
            var lr = 0.01 * t;
            AdamW.Step(p, g, m, v, t, lr, options);
            for (var i = 0; i < 3; i++)
            {
                // The textbook form, in double: decoupled decay, bias-corrected moments.
                rp[i] *= 1 - lr * 0.05;
                rm[i] = 0.8 * rm[i] + 0.2 * g[i];
                rv[i] = 0.9 * rv[i] + 0.1 * g[i] * g[i];
                var mHat = rm[i] / (1 - Math.Pow(0.8, t));
                var vHat = rv[i] / (1 - Math.Pow(0.9, t));
                rp[i] -= lr * mHat / (Math.Sqrt(vHat) + 1e-3);
            }
        }
        for (var i = 0; i < 3; i++) Assert.Equal(rp[i], p[i], 5);
    }

    [Fact]
    public void Sgd_step_is_exactly_w_minus_lr_g()
    {
        float[] p = [1f, -2f, 0.125f];
        float[] g = [0.5f, 0.25f, -4f];
        Sgd.Step(p, g, 0.5);
        Assert.Equal([0.75f, -2.125f, 2.125f], p);
    }

    [Fact]
    public void Warmup_then_cosine()
    {
        var s = new LearningRateSchedule(Peak: 1e-3, WarmupSteps: 10, TotalSteps: 110, Minimum: 1e-4);
        Assert.Equal(1e-4, s.At(1), 12);
        Assert.Equal(1e-3, s.At(10), 12);
        Assert.Equal((1e-3 + 1e-4) / 2, s.At(60), 12);   // half-way down the cosine
        Assert.Equal(1e-4, s.At(110), 12);
        Assert.Equal(1e-4, s.At(500), 12);
        Assert.True(s.At(30) > s.At(31));
        Assert.Throws<ArgumentOutOfRangeException>(() => s.At(0));
    }

    [Fact]
    public void Global_norm_clipping_scales_all_gradients_together()
    {
        var a = new float[] { 3, 0 };
        var b = new float[] { 0, 4 };
        var norm = GradientClipping.ClipGlobalNorm([a, b], maxNorm: 1);
        Assert.Equal(5, norm, 6);
        Assert.Equal(0.6f, a[0], 5);
        Assert.Equal(0.8f, b[1], 5);

        var c = new float[] { 3, 4 };
        Assert.Equal(5, GradientClipping.ClipGlobalNorm([c], maxNorm: 0), 6);   // off
        Assert.Equal([3f, 4f], c);
    }
}
