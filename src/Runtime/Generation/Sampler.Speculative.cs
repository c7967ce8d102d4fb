namespace DeepSeek.Runtime.Generation;

// Speculative decoding needs the distribution Sample draws from as a whole vector, not just one draw from it.
public sealed partial class Sampler
{
    /// <summary>
    /// Fills <paramref name="probabilities"/> (vocab) with the exact distribution <see cref="Sample"/> would draw from
    /// for these logits and history — penalties, temperature, top-k, top-p and min-p applied, zero for filtered ids;
    /// one-hot on the argmax when greedy. Modifies <paramref name="logits"/> in place like <see cref="Sample"/>.
    /// </summary>
    /// <exception cref="ArgumentException">A row length or the history's vocabulary differs from <see cref="VocabSize"/>.</exception>
    /// <exception cref="InvalidOperationException">Every logit is NaN or −∞.</exception>
    public void Distribution(Span<float> logits, TokenHistory? history, Span<float> probabilities)
    {
        if (logits.Length != VocabSize)
            throw new ArgumentException($"Expected a logits row of {VocabSize} entries, got {logits.Length}.", nameof(logits));
        if (probabilities.Length != VocabSize)
            throw new ArgumentException($"Expected a probability row of {VocabSize} entries, got {probabilities.Length}.", nameof(probabilities));
        if (history is not null)
        {
            if (history.VocabSize != VocabSize)
                throw new ArgumentException($"The history is for a vocabulary of {history.VocabSize} ids, the sampler for {VocabSize}.", nameof(history));
            ApplyPenalties(logits, history);
        }
        probabilities.Clear();
        if (_options.IsGreedy)
        {
            int best = ArgMax(logits);
            probabilities[best >= 0 ? best : throw NoCandidate()] = 1f;
            return;
        }
        var c = Filter(logits);
        double total = 0;
        foreach (var x in c)
            total += x.Weight;
        foreach (var x in c)
            probabilities[x.Id] = (float)(x.Weight / total);
    }

    /// <summary>Draws an id from <paramref name="probabilities"/> with this sampler's generator (the seeded stream <see cref="Sample"/> uses).</summary>
    public int SampleFrom(ReadOnlySpan<float> probabilities) => SpeculativeSampling.SampleFrom(probabilities, _rng.NextDouble());

    /// <summary>
    /// Speculative verification (<see cref="SpeculativeSampling.Verify"/>) with this sampler's generator: keeps
    /// <paramref name="draftToken"/> with probability min(1, p/q), else draws from normalize(max(0, p − q)).
    /// </summary>
    /// <param name="target">p from <see cref="Distribution"/> over the main model's logits.</param>
    /// <param name="draft">q, the distribution the draft was drawn from.</param>
    /// <param name="draftToken">The draft.</param>
    /// <param name="accepted">Whether the draft was kept.</param>
    public int Verify(ReadOnlySpan<float> target, ReadOnlySpan<float> draft, int draftToken, out bool accepted)
    {
        // Two draws every time, used or not: the stream then depends only on how many verifications ran.
        var accept = _rng.NextDouble();
        var residual = _rng.NextDouble();
        return SpeculativeSampling.Verify(target, draft, draftToken, accept, residual, out accepted);
    }
}
