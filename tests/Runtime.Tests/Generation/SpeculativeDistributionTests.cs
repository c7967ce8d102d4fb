using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Compute.Cpu;
using DeepSeek.Runtime.Generation;
using DeepSeek.Runtime.Model;

namespace DeepSeek.Runtime.Tests.Generation;

/// <summary>
/// Sampling with MTP drafts must keep plain sampling's distribution. On a 6-token vocabulary the exact joint distribution
/// of three generated tokens is computed here from the main model's logits with the sampling rules written out by hand
/// (presence penalty, temperature, top-k, softmax); thousands of seeded speculative generations must fit it (χ²).
/// </summary>
public sealed class SpeculativeDistributionTests : IDisposable
{
    private const int Vocab = 6, Generated = 3, Samples = 9_000;
    private static readonly int[] Prompt = [2];
    private readonly TempDir _dir = new();
    private readonly Checkpoint _checkpoint;
    private readonly CpuBackend _backend = new(1);
    private readonly Transformer _model;

    public SpeculativeDistributionTests()
    {
        var config = SpeculationCheckpoints.TinyConfig with { VocabSize = Vocab };
        _checkpoint = Checkpoint.Open(SpeculationCheckpoints.WriteAgreeing(_dir, "v6", config, blockStd: 0.15f));
        _model = new Transformer(_backend, WeightMap.Bind(_checkpoint), 16);
    }

    public void Dispose()
    {
        _checkpoint.Dispose();
        _backend.Dispose();
        _dir.Dispose();
    }

    private static SamplingOptions Options(long seed) => new() { Temperature = 1.0, PresencePenalty = 0.5, TopK = 5, MaxTokens = Generated, Seed = seed };

    /// <summary>P(t1, t2, t3) under plain sampling with <paramref name="temperature"/>, by enumerating every prefix.</summary>
    private double[] ExactJoint(double temperature)
    {
        var joint = new double[Vocab * Vocab * Vocab];
        void Walk(List<int> generated, double probability)
        {
            if (generated.Count == Generated)
            {
                joint[(generated[0] * Vocab + generated[1]) * Vocab + generated[2]] = probability;
                return;
            }
            var tokens = Prompt.Concat(generated).ToArray();
            var logits = new float[Vocab];
            _model.Forward(tokens, new int[tokens.Length], _model.CreateCache(1, 16), [tokens.Length - 1], logits);
            var l = logits.Select((v, id) => (double)v - (generated.Contains(id) ? 0.5 : 0)).ToArray();
            var kth = l.OrderDescending().ElementAt(4);                                  // top-5 keeps l ≥ the 5th largest
            var w = l.Select(v => v >= kth ? Math.Exp((v - l.Max()) / temperature) : 0).ToArray();
            var z = w.Sum();
            for (var id = 0; id < Vocab; id++)
                if (w[id] > 0) Walk([.. generated, id], probability * w[id] / z);
        }
        Walk([], 1);
        return joint;
    }

    private (long[] Counts, SpeculationStats Stats) Sample(SpeculativeDecoding mode)
    {
        var counts = new long[Vocab * Vocab * Vocab];
        var stats = default(SpeculationStats);
        var generator = new Generator(_model, eosTokenIds: [], speculative: mode);
        const int batch = 3_000;
        for (var start = 0; start < Samples; start += batch)
        {
            var requests = Enumerable.Range(start, batch).Select(i => new GenerationRequest(Prompt, Options(i + 1))).ToList();
            var tokens = new int[batch, Generated];
            var index = new int[batch];
            foreach (var t in generator.Generate(requests))
            {
                tokens[t.Sequence, index[t.Sequence]++] = t.TokenId;
                if (t.Finish is not null) stats += t.Speculation;
            }
            for (var s = 0; s < batch; s++)
            {
                Assert.Equal(Generated, index[s]);
                counts[(tokens[s, 0] * Vocab + tokens[s, 1]) * Vocab + tokens[s, 2]]++;
            }
        }
        return (counts, stats);
    }

    /// <summary>Pearson's χ² with cells of expected count under 5 pooled; returns the statistic and the 1e-5 critical value.</summary>
    private static (double Chi2, double Critical) ChiSquare(long[] counts, double[] expected)
    {
        double chi2 = 0, pooledObserved = 0, pooledExpected = 0;
        var cells = 0;
        for (var i = 0; i < counts.Length; i++)
        {
            var e = expected[i] * Samples;
            if (e < 5)
            {
                pooledObserved += counts[i];
                pooledExpected += e;
                continue;
            }
            chi2 += (counts[i] - e) * (counts[i] - e) / e;
            cells++;
        }
        if (pooledExpected > 0)
        {
            chi2 += (pooledObserved - pooledExpected) * (pooledObserved - pooledExpected) / pooledExpected;
            cells++;
        }
        // Wilson–Hilferty: χ²_df quantile ≈ df·(1 − 2/(9df) + z·√(2/(9df)))³, z = 4.265 for an upper tail of 1e-5.
        double df = cells - 1, a = 2 / (9 * df);
        return (chi2, df * Math.Pow(1 - a + 4.265 * Math.Sqrt(a), 3));
    }

    [Fact]
    public void Sampled_speculative_output_has_the_plain_sampling_distribution()
    {
        var exact = ExactJoint(temperature: 1.0);
        Assert.Equal(1.0, exact.Sum(), 6);

        var (spec, stats) = Sample(SpeculativeDecoding.Mtp);
        // Both verification outcomes are exercised thousands of times.
        Assert.True(stats.Accepted > 500 && stats.Drafted - stats.Accepted > 500, $"{stats}");
        var (chi2, critical) = ChiSquare(spec, exact);
        Assert.True(chi2 < critical, $"speculative sampling: χ² {chi2:F1} ≥ {critical:F1} ({stats})");

        // The same check on plain sampling (validates the hand-written reference) and, for power, against a slightly
        // different distribution (temperature 1.15), which the same samples must fail.
        var (plain, _) = Sample(SpeculativeDecoding.None);
        var (plainChi2, _) = ChiSquare(plain, exact);
        Assert.True(plainChi2 < critical, $"plain sampling: χ² {plainChi2:F1} ≥ {critical:F1}");
        var (wrongChi2, wrongCritical) = ChiSquare(spec, ExactJoint(temperature: 1.15));
        Assert.True(wrongChi2 > wrongCritical, $"the test cannot tell temperature 1.15 from 1: χ² {wrongChi2:F1} ≤ {wrongCritical:F1}");
    }

    [Fact]
    public void Sampler_distribution_is_what_sample_draws_from()
    {
        var rng = new Random(5);
        var logits = Enumerable.Range(0, 20).Select(_ => (float)(rng.NextDouble() * 4 - 2)).ToArray();
        logits[7] = float.NegativeInfinity;
        var history = new TokenHistory(20);
        history.AddPrompt([1, 2, 3]);
        history.AddGenerated(4);
        history.AddGenerated(4);
        foreach (var options in new[]
        {
            new SamplingOptions { Temperature = 0.7, TopK = 8, Seed = 1 },
            new SamplingOptions { Temperature = 1.3, TopP = 0.8, MinP = 0.05, RepetitionPenalty = 1.3, FrequencyPenalty = 0.4, Seed = 2 },
            SamplingOptions.Greedy,
        })
        {
            var p = new float[20];
            new Sampler(options, 20).Distribution(logits.ToArray(), history, p);
            Assert.Equal(1.0, p.Sum(), 5);
            Assert.Equal(0f, p[7]);
            var sampler = new Sampler(options, 20);
            var counts = new int[20];
            const int draws = 40_000;
            for (var i = 0; i < draws; i++) counts[sampler.Sample(logits.ToArray(), history)]++;
            for (var id = 0; id < 20; id++)
            {
                // Binomial standard deviation √(n·p·(1−p)); 5σ plus one count.
                var sd = Math.Sqrt(draws * p[id] * (1 - p[id]));
                Assert.True(Math.Abs(counts[id] - draws * p[id]) <= 5 * sd + 1, $"{options}: id {id} drawn {counts[id]} times, p {p[id]:F4}");
            }
        }

        // By hand for the first: softmax(l/0.7) over the 8 largest, frequency/presence penalties off, repetition off.
        var top8 = logits.Select((v, id) => (v, id)).OrderByDescending(x => x.v).Take(8).ToArray();
        var z = top8.Sum(x => Math.Exp(x.v / 0.7));
        var mine = new float[20];
        new Sampler(new SamplingOptions { Temperature = 0.7, TopK = 8 }, 20).Distribution(logits.ToArray(), history, mine);
        foreach (var (v, id) in top8) Assert.Equal(Math.Exp(v / 0.7) / z, mine[id], 5);
        Assert.Equal(8, mine.Count(x => x > 0));
    }
}
