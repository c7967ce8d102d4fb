using System.Diagnostics;
using System.Security.Cryptography;

namespace DeepSeek.Runtime.Generation;

/// <summary>
/// Turns one logits row into the next token id: penalties → temperature → top-k → top-p → min-p → softmax → draw
/// (the order of Hugging Face's logits processors and vLLM's sampler). One instance per sequence; not thread-safe.
/// </summary>
/// <remarks>
/// All scratch space is allocated in the constructor, so <see cref="Sample(Span{float}, TokenHistory?)"/> never
/// allocates. Random draws come from xoshiro256** seeded with <see cref="SamplingOptions.Seed"/>, so a seed gives the
/// same tokens on every .NET version and platform (for bit-identical logits).
/// </remarks>
public sealed partial class Sampler
{
    private readonly SamplingOptions _options;
    private readonly float _temperature, _repetitionPenalty, _presencePenalty, _frequencyPenalty;
    private readonly Candidate[] _candidates;   // (vocab): surviving ids and their unnormalized probabilities
    private readonly float[] _scratch;          // (vocab): logits copy for top-k selection
    private Xoshiro256StarStar _rng;

    /// <summary>Creates a sampler for logits rows of <paramref name="vocabSize"/> entries.</summary>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range (see <see cref="SamplingOptions.Validate"/>).</exception>
    public Sampler(SamplingOptions options, int vocabSize)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(vocabSize);
        options.Validate();
        _options = options;
        VocabSize = vocabSize;
        _temperature = (float)options.Temperature;
        _repetitionPenalty = (float)options.RepetitionPenalty;
        _presencePenalty = (float)options.PresencePenalty;
        _frequencyPenalty = (float)options.FrequencyPenalty;
        Seed = options.Seed ?? BitConverter.ToInt64(RandomNumberGenerator.GetBytes(sizeof(long)));
        _rng = new Xoshiro256StarStar(Seed);
        if (!options.IsGreedy)
        {
            _candidates = new Candidate[vocabSize];
            _scratch = options.TopK > 0 && options.TopK < vocabSize ? new float[vocabSize] : [];
        }
        else
        {
            _candidates = [];
            _scratch = [];
        }
    }

    /// <summary>The options this sampler was built from.</summary>
    public SamplingOptions Options => _options;

    /// <summary>Length of the logits rows this sampler takes.</summary>
    public int VocabSize { get; }

    /// <summary>The seed in use: <see cref="SamplingOptions.Seed"/>, or the random one drawn when it was null.</summary>
    public long Seed { get; }

    /// <summary>
    /// Picks the next token from <paramref name="logits"/>. The row is modified in place (penalties applied,
    /// NaN replaced by −∞); copy it first if it is needed afterwards. The caller appends the result to
    /// <paramref name="history"/> with <see cref="TokenHistory.AddGenerated"/>.
    /// </summary>
    /// <param name="logits">(vocab) raw logits of the last position.</param>
    /// <param name="history">The sequence so far, for the penalties; null applies none.</param>
    /// <returns>The token id.</returns>
    /// <exception cref="ArgumentException">The row length or the history's vocabulary differs from <see cref="VocabSize"/>.</exception>
    /// <exception cref="InvalidOperationException">Every logit is NaN or −∞, so no token can be chosen.</exception>
    public int Sample(Span<float> logits, TokenHistory? history = null)
    {
        if (logits.Length != VocabSize)
            throw new ArgumentException($"Expected a logits row of {VocabSize} entries, got {logits.Length}.", nameof(logits));
        if (history is not null)
        {
            if (history.VocabSize != VocabSize)
                throw new ArgumentException(
                    $"The history is for a vocabulary of {history.VocabSize} ids, the sampler for {VocabSize}.", nameof(history));
            ApplyPenalties(logits, history);
        }
        if (_options.IsGreedy)
        {
            int best = ArgMax(logits);
            return best >= 0 ? best : throw NoCandidate();
        }
        return SampleStochastic(logits);
    }

    /// <summary>
    /// Index of the largest logit, ties broken by the lowest index; NaN entries are skipped. −1 when every entry is NaN or −∞.
    /// </summary>
    public static int ArgMax(ReadOnlySpan<float> logits)
    {
        int best = -1;
        float max = float.NegativeInfinity;
        for (int i = 0; i < logits.Length; i++)
        {
            // Strict '>' keeps the first of equal maxima and is false for NaN.
            if (logits[i] > max)
            {
                max = logits[i];
                best = i;
            }
        }
        return best;
    }

    /// <summary>
    /// Repetition penalty (CTRL, Keskar et al. 2019 §4.1; HF <c>RepetitionPenaltyLogitsProcessor</c>) over the context,
    /// then OpenAI's presence/frequency penalties over generated tokens: l −= presence·[c&gt;0] + frequency·c.
    /// </summary>
    internal void ApplyPenalties(Span<float> logits, TokenHistory history)
    {
        if (_repetitionPenalty != 1f)
        {
            float p = _repetitionPenalty;
            foreach (int id in history.DistinctContext)
            {
                float l = logits[id];
                logits[id] = l < 0 ? l * p : l / p;
            }
        }
        if (_presencePenalty != 0f || _frequencyPenalty != 0f)
        {
            foreach (int id in history.DistinctGenerated)
                logits[id] -= _presencePenalty + (_frequencyPenalty * history.GeneratedCountOfUnchecked(id));
        }
    }

    private int SampleStochastic(Span<float> logits) => Draw(Filter(logits));

    /// <summary>
    /// Temperature, top-k, top-p and min-p: the surviving tokens with their unnormalized probabilities
    /// exp((l − max)/T). A view of scratch space, valid until the next call.
    /// </summary>
    internal ReadOnlySpan<Candidate> Filter(Span<float> logits)
    {
        Debug.Assert(!_options.IsGreedy, "greedy sampling takes the argmax and has no candidate buffer");
        // NaN → −∞ so that no comparison below sees it; the max anchors a stable softmax.
        float max = float.NegativeInfinity;
        for (int i = 0; i < logits.Length; i++)
        {
            float l = logits[i];
            if (float.IsNaN(l))
                logits[i] = float.NegativeInfinity;
            else if (l > max)
                max = l;
        }
        if (max == float.NegativeInfinity)
            throw NoCandidate();

        int n = _options.TopK > 0 && _options.TopK < VocabSize
            ? GatherTopK(logits, _options.TopK)
            : GatherAll(logits);

        // Unnormalized probabilities w = exp((l − max)/T), so the top token has w = 1. A +∞ logit takes all the mass.
        Span<Candidate> c = _candidates.AsSpan(0, n);
        float invT = 1f / _temperature;
        bool infinite = float.IsPositiveInfinity(max);
        double z = 0;
        for (int j = 0; j < c.Length; j++)
        {
            float l = logits[c[j].Id];
            float d = l - max;
            // d == 0 short-cuts the top token: a temperature so small that 1/T overflows would make it 0·∞ = NaN.
            float w = infinite ? (float.IsPositiveInfinity(l) ? 1f : 0f) : d == 0 ? 1f : MathF.Exp(d * invT);
            c[j].Weight = w;
            z += w;
        }

        if (_options.TopP < 1.0)
        {
            n = ApplyTopP(c, z, _options.TopP);
            c = c[..n];
        }
        if (_options.MinP > 0)
        {
            // p_i ≥ min_p · p_max  ⇔  w_i ≥ min_p, since w_max = 1 and both share the normalizer.
            float minW = (float)_options.MinP;
            int kept = 0;
            for (int j = 0; j < c.Length; j++)
            {
                if (c[j].Weight >= minW)
                    c[kept++] = c[j];
            }
            c = c[..kept];
        }
        return c;
    }

    private int Draw(ReadOnlySpan<Candidate> c)
    {
        Debug.Assert(c.Length > 0, "the top token always survives every filter");
        double total = 0;
        foreach (var x in c)
            total += x.Weight;
        double r = _rng.NextDouble() * total;
        double acc = 0;
        int last = 0;
        for (int j = 0; j < c.Length; j++)
        {
            if (c[j].Weight <= 0)
                continue;
            last = j;
            acc += c[j].Weight;
            if (r < acc)
                return c[j].Id;
        }
        // Rounding left r at the very top of the range: the last token with nonzero weight owns that edge.
        return c[last].Id;
    }

    private static InvalidOperationException NoCandidate() =>
        new("Cannot sample: every logit is NaN or -infinity (after penalties). Check the model output for overflow.");

    /// <summary>A surviving token and its unnormalized probability.</summary>
    internal struct Candidate
    {
        public int Id;
        public float Weight;
    }
}
