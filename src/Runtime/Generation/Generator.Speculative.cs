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
    /// <summary>
    /// Runs the MTP module over rows <paramref name="rows"/> of a main forward pass (row r paired with token
    /// <paramref name="next"/>[r], cached at that row's slot) and gives <paramref name="drafters"/>[k] its draft from MTP row
    /// <paramref name="logitRows"/>[k].
    /// </summary>
    private void DraftWithMtp(ForwardResult main, KvCache cache, ReadOnlySpan<int> rows, ReadOnlySpan<int> next, ReadOnlySpan<int> logitRows,
        ReadOnlySpan<int> drafters, SequenceState?[] states, float[] logits)
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
        for (var k = 0; k < drafters.Length; k++) states[drafters[k]]!.DraftFrom(logits.AsSpan(k * vocab, vocab));
    }

    private static bool IsAllRows(ReadOnlySpan<int> rows, int count)
    {
        if (rows.Length != count) return false;
        for (var i = 0; i < rows.Length; i++)
            if (rows[i] != i) return false;
        return true;
    }
}
