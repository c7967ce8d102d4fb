using DeepSeek.Runtime.Compute;
using DeepSeek.Runtime.Generation;

namespace DeepSeek.Runtime.Model;

/// <summary>An attention layer: writes the batch's keys/values (or latents) to the cache, then attends causally.</summary>
public interface IAttention
{
    /// <summary>
    /// x [T, hidden] (normalised) → [T, hidden]; token i is at <paramref name="slots"/>[i]. Activations come from
    /// <paramref name="scratch"/> (the cache's, so decode steps reuse them); without one they are allocated.
    /// </summary>
    ComputeTensor Forward(ComputeTensor x, ReadOnlySpan<TokenSlot> slots, LayerCache cache, ActivationScratch? scratch = null);
}
