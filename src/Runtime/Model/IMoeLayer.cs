using DeepSeek.Runtime.Compute;

namespace DeepSeek.Runtime.Model;

/// <summary>
/// The feed-forward of an MoE block as <see cref="Block"/> calls it: the single-process <see cref="Moe"/>, or a layer whose
/// routed experts live on other ranks (expert-parallel serving). The seam lets a host choose how MoE layers run without
/// the block, the transformer or the generator knowing.
/// </summary>
public interface IMoeLayer
{
    /// <summary>
    /// x [T, hidden] → [T, hidden] for the block of layer <paramref name="layer"/>; <paramref name="trace"/> receives the
    /// expert choices when the implementation records them. The result is valid until the layer's next call.
    /// </summary>
    ComputeTensor Forward(ComputeTensor x, int layer, ForwardTrace? trace, ActivationScratch? scratch = null);
}
