using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Model;

namespace DeepSeek.Runtime.Compute;

/// <summary>Where each token of a batch reads and writes its KV cache.</summary>
/// <param name="CacheRow">Row of the cache tensors this token's K/V (or latent) goes to.</param>
/// <param name="FirstRow">First cache row of the token's sequence.</param>
/// <param name="Position">Position of the token in its sequence: it attends to cache rows FirstRow … FirstRow + Position.</param>
public readonly record struct TokenSlot(int CacheRow, int FirstRow, int Position);

/// <summary>Dimensions of one attention call.</summary>
/// <param name="Heads">Query heads.</param>
/// <param name="KvHeads">Key/value heads (GQA: query head h reads KV head h / (Heads / KvHeads)).</param>
/// <param name="QkDim">Dimensions of a query/key head.</param>
/// <param name="VDim">Dimensions of a value head.</param>
/// <param name="Scale">Logit scale (softmax_scale).</param>
public readonly record struct AttentionShape(int Heads, int KvHeads, int QkDim, int VDim, float Scale);

/// <summary>Dimensions of MLA in its absorbed form (the latent cache holds [c_kv | k_pe] per token).</summary>
/// <param name="Heads">Query heads.</param>
/// <param name="NopeDim">qk_nope_head_dim.</param>
/// <param name="RopeDim">qk_rope_head_dim.</param>
/// <param name="VDim">v_head_dim.</param>
/// <param name="LatentDim">kv_lora_rank.</param>
/// <param name="Scale">softmax_scale.</param>
public readonly record struct MlaShape(int Heads, int NopeDim, int RopeDim, int VDim, int LatentDim, float Scale);

/// <summary>
/// The compute seam: coarse operations the model is written in. The model never touches activation memory
/// directly, so a GPU backend plugs in by implementing this interface over device memory.
/// All activations are fp32; weights stay in their stored dtype (F32/F16/BF16/block-FP8) and are decoded inside the kernels.
/// </summary>
public interface IComputeBackend : IDisposable
{
    /// <summary>Backend name for logs (e.g. <c>cpu</c>).</summary>
    string Name { get; }

    /// <summary>A zeroed [rows, cols] activation tensor.</summary>
    ComputeTensor Allocate(int rows, int cols);

    /// <summary>Binds a checkpoint weight (CPU: a view of the mapping, no copy).</summary>
    ComputeWeight Bind(WeightTensor weight);

    /// <summary>Copies host values into <paramref name="destination"/> (row-major, Rows × Cols).</summary>
    void Upload(ReadOnlySpan<float> source, ComputeTensor destination);

    /// <summary>Copies <paramref name="source"/> to the host (row-major, Rows × Cols).</summary>
    void Download(ComputeTensor source, Span<float> destination);

    /// <summary>output[i] = table[ids[i]].</summary>
    void Embedding(ReadOnlySpan<int> ids, ComputeWeight table, ComputeTensor output);

    /// <summary>output = x · rsqrt(mean(x²) + eps) · weight, per row, in fp32.</summary>
    void RmsNorm(ComputeTensor x, ComputeWeight weight, float eps, ComputeTensor output);

    /// <summary>output = x · weightᵀ (+ bias): x [T, in], weight [out, in], output [T, out].</summary>
    void MatMul(ComputeTensor x, ComputeWeight weight, ComputeTensor output, ComputeWeight? bias = null);

    /// <summary>accumulator += value (same shape).</summary>
    void Add(ComputeTensor accumulator, ComputeTensor value);

    /// <summary>output = silu(gate) ⊙ up.</summary>
    void SwiGlu(ComputeTensor gate, ComputeTensor up, ComputeTensor output);

    /// <summary>destination = source (same shape; either may be a column slice).</summary>
    void Copy(ComputeTensor source, ComputeTensor destination);

    /// <summary>
    /// Rotates, in place, dimensions [<paramref name="offset"/>, offset + table.Dim) of each of <paramref name="heads"/>
    /// heads of width <paramref name="headDim"/> in every row, row r at position <paramref name="positions"/>[r].
    /// </summary>
    void Rope(ComputeTensor x, int heads, int headDim, int offset, ReadOnlySpan<int> positions, RopeTable table);

    /// <summary>cache row slots[i].CacheRow = source row i.</summary>
    void WriteCache(ComputeTensor source, ComputeTensor cache, ReadOnlySpan<TokenSlot> slots);

    /// <summary>
    /// Causal softmax attention over cached keys/values: q [T, Heads·QkDim], keys [rows, KvHeads·QkDim],
    /// values [rows, KvHeads·VDim], output [T, Heads·VDim]. Token i attends to cache rows FirstRow … FirstRow + Position.
    /// </summary>
    void Attention(ComputeTensor q, ComputeTensor keys, ComputeTensor values, ReadOnlySpan<TokenSlot> slots, AttentionShape shape, ComputeTensor output);

    /// <summary>
    /// MLA in absorbed form over the latent cache [rows, LatentDim + RopeDim] (normalised c_kv, rotated k_pe):
    /// q [T, Heads·(NopeDim+RopeDim)] with RoPE applied, wkvB = kv_b_proj [Heads·(NopeDim+VDim), LatentDim];
    /// score = (q_nope·W_UK)·c_kv + q_pe·k_pe, out = W_UV·Σ p·c_kv. output [T, Heads·VDim].
    /// </summary>
    void MlaAbsorbedAttention(ComputeTensor q, ComputeTensor latentCache, ComputeWeight wkvB, ReadOnlySpan<TokenSlot> slots, MlaShape shape, ComputeTensor output);

    /// <summary>
    /// Router logits in fp32: output [T, n_routed] = x · gateᵀ, downloaded to the host because expert selection
    /// is branchy, small and decides the dispatch.
    /// </summary>
    void RouterLogits(ComputeTensor x, ComputeWeight gate, Span<float> output);

    /// <summary>destination row i = source row rows[i].</summary>
    void GatherRows(ComputeTensor source, ReadOnlySpan<int> rows, ComputeTensor destination);

    /// <summary>destination row rows[i] += scales[i] · source row i (the MoE combine).</summary>
    void ScatterAddRows(ComputeTensor source, ReadOnlySpan<int> rows, ReadOnlySpan<float> scales, ComputeTensor destination);
}
