using DeepSeek.Runtime.Model;

namespace DeepSeek.Runtime.Generation;

// MTP speculative decoding (DeepSeek-V3 §2.2 and §5.4.3). The MTP module at position i takes the main model's final
// hidden state h_i and the embedding of t_{i+1} and predicts t_{i+2}. So once the main model has produced t_{i+1}, the
// module drafts d for t_{i+2}; the next step feeds [t_{i+1}, d] at positions i+1, i+2 in one batched forward. The row of
// t_{i+1} verifies d; when d is kept, the row of d gives t_{i+3} as well (two tokens for one main-model step), and the
// module then runs over both positions to draft again. When d is rejected, the cache row written for d is dropped
// (KvCache.Truncate; main and MTP layers share the lengths) and the module runs over position i+1 only. The module caches
// at every position of a drafting sequence, prompt included, since its own attention reads all earlier positions.
public sealed partial class Generator
{
    private IEnumerable<GeneratedToken> RunSpeculative(SequenceState[] states, KvCache cache, LogitsObserver? observer, bool observePromptLogits, CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();
        var vocab = _model.VocabSize;
        var n = states.Length;
        var (prefill, first) = Prefill(states, cache, observer, observePromptLogits);
        var mtpLogits = new float[n * vocab];                       // (drafting sequences, vocab)
        var last = new int[n];

        // MTP over every prompt position of the sequences that draft: position p pairs h_p with token p+1 (the first
        // generated token for the last position), so the module's cache is complete before the first draft.
        var promptRows = new List<int>();
        var promptNext = new List<int>();
        var draftRows = new List<int>();
        var drafters = new List<int>();
        for (int s = 0, offset = 0; s < n; offset += states[s].Prompt.Count, s++)
        {
            last[s] = first[s].TokenId;
            if (!states[s].ContinueSpeculating()) continue;
            var prompt = states[s].Prompt;
            for (var p = 0; p < prompt.Count; p++)
            {
                promptRows.Add(offset + p);
                promptNext.Add(p + 1 < prompt.Count ? prompt[p + 1] : first[s].TokenId);
            }
            draftRows.Add(promptRows.Count - 1);
            drafters.Add(s);
        }
        DraftWithMtp(prefill, cache, [.. promptRows], [.. promptNext], [.. draftRows], [.. drafters], states, mtpLogits);
        foreach (var token in first) yield return token;

        // Step scratch: at most two fed tokens and two MTP rows per sequence.
        var fed = new int[2 * n];
        var owners = new int[2 * n];
        var allRows = Enumerable.Range(0, 2 * n).ToArray();
        var start = new int[n];
        var active = new int[n];
        var mtpRows = new int[2 * n];
        var mtpNext = new int[2 * n];
        var logitRows = new int[n];
        var drafting = new int[n];
        var step = new float[2 * n * vocab];
        while (true)
        {
            ct.ThrowIfCancellationRequested();
            int count = 0, activeCount = 0;
            for (var s = 0; s < n; s++)
            {
                if (states[s].Finished) continue;
                active[activeCount++] = s;
                start[s] = count;
                fed[count] = last[s];
                owners[count++] = s;
                if (states[s].Draft < 0) continue;
                fed[count] = states[s].Draft;
                owners[count++] = s;
            }
            if (activeCount == 0) yield break;
            var main = _model.Forward(fed.AsSpan(0, count), owners.AsSpan(0, count), cache, allRows.AsSpan(0, count), step);

            int m = 0, d = 0;
            for (var i = 0; i < activeCount; i++)
            {
                var s = active[i];
                var state = states[s];
                var r0 = start[s];
                observer?.Invoke(s, state.Length - 1, step.AsSpan(r0 * vocab, vocab));
                var draft = state.Draft;
                if (draft < 0)
                {
                    var token = state.Pick(step.AsSpan(r0 * vocab, vocab), s);
                    last[s] = token.TokenId;
                    yield return token;
                    continue;
                }

                var verified = state.Verify(step.AsSpan(r0 * vocab, vocab), s, out var accepted);
                last[s] = verified.TokenId;
                yield return verified;
                if (!accepted)
                {
                    // The draft's cache row holds a token the sequence does not have: drop it (the next token overwrites it).
                    cache.Truncate(s, cache.Length(s) - 1);
                    if (!state.ContinueSpeculating()) continue;
                    mtpRows[m] = r0;
                    mtpNext[m++] = verified.TokenId;
                }
                else
                {
                    if (state.Finished)
                    {
                        state.ContinueSpeculating();
                        continue;
                    }
                    // The draft's row predicts the token after it: the step's second token, for free.
                    ct.ThrowIfCancellationRequested();
                    observer?.Invoke(s, state.Length - 1, step.AsSpan((r0 + 1) * vocab, vocab));
                    var bonus = state.Pick(step.AsSpan((r0 + 1) * vocab, vocab), s);
                    last[s] = bonus.TokenId;
                    yield return bonus;
                    if (!state.ContinueSpeculating()) continue;
                    mtpRows[m] = r0;
                    mtpNext[m++] = draft;
                    mtpRows[m] = r0 + 1;
                    mtpNext[m++] = bonus.TokenId;
                }
                logitRows[d] = m - 1;
                drafting[d++] = s;
            }
            DraftWithMtp(main, cache, mtpRows.AsSpan(0, m), mtpNext.AsSpan(0, m), logitRows.AsSpan(0, d), drafting.AsSpan(0, d), states, mtpLogits);
        }
    }

    /// <summary>
    /// Runs the MTP module over rows <paramref name="rows"/> of a main forward pass (row r paired with token
    /// <paramref name="next"/>[r], cached at that row's slot) and gives <paramref name="drafters"/>[k] its draft from MTP row
    /// <paramref name="logitRows"/>[k].
    /// </summary>
    private void DraftWithMtp(ForwardResult main, KvCache cache, ReadOnlySpan<int> rows, ReadOnlySpan<int> next, ReadOnlySpan<int> logitRows,
        ReadOnlySpan<int> drafters, SequenceState[] states, float[] logits)
    {
        if (drafters.Length == 0) return;
        var vocab = _model.VocabSize;
        var input = main;
        if (!IsAllRows(rows, main.Slots.Length))
        {
            // Planned in the cache's scratch like the model's own activations: no allocation once warm.
            var scratch = cache.Scratch;
            var hidden = scratch.Tensor(this, 0, rows.Length, main.Hidden.Cols);   // (rows, hidden) the drafting positions' h
            _model.Backend.GatherRows(main.Hidden, rows, hidden);
            var slots = scratch.Array<Compute.TokenSlot>(this, 1, rows.Length);
            for (var i = 0; i < rows.Length; i++) slots[i] = main.Slots[rows[i]];
            input = scratch.Item<ForwardResult>(this, 2, rows.Length);
            if (input is null || !ReferenceEquals(input.Hidden, hidden) || !ReferenceEquals(input.Slots, slots))
                scratch.SetItem(this, 2, rows.Length, input = new ForwardResult(hidden, slots));
        }
        _model.MtpForward(next, input, cache, logitRows, logits);
        for (var k = 0; k < drafters.Length; k++) states[drafters[k]].DraftFrom(logits.AsSpan(k * vocab, vocab));
    }

    private static bool IsAllRows(ReadOnlySpan<int> rows, int count)
    {
        if (rows.Length != count) return false;
        for (var i = 0; i < rows.Length; i++)
            if (rows[i] != i) return false;
        return true;
    }
}
