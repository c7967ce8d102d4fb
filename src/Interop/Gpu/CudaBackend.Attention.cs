using DeepSeek.Interop.Cuda;
using DeepSeek.Runtime.Compute;

namespace DeepSeek.Interop.Gpu;

public sealed partial class CudaBackend
{
    private const int AttentionThreads = 128;
    private const int AttentionMaxDim = 1024;   // ATT_THREADS × ATT_MAX_PER_THREAD in attention.cu

    /// <inheritdoc/>
    public void Attention(ComputeTensor q, ComputeTensor keys, ComputeTensor values, ReadOnlySpan<TokenSlot> slots, AttentionShape shape, ComputeTensor output)
    {
        var qt = CudaTensor.Of(q);
        var k = CudaTensor.Of(keys);
        var v = CudaTensor.Of(values);
        var o = CudaTensor.Of(output);
        var (heads, kvHeads, qkDim, vDim, scale) = shape;
        if (heads <= 0 || kvHeads <= 0 || qt.Cols != heads * qkDim || k.Cols != kvHeads * qkDim || v.Cols != kvHeads * vDim || o.Cols != heads * vDim || heads % kvHeads != 0 || slots.Length != qt.Rows)
            throw new ArgumentException($"attention shapes: q {qt}, k {k}, v {v}, out {o}, {shape}");
        if (vDim > AttentionMaxDim) throw new NotSupportedException($"attention: v head dim {vDim} exceeds the kernel's {AttentionMaxDim}");
        if (qt.Rows == 0) return;
        lock (_lock)
        {
            var slotPtr = UploadInts(SlotInts(slots, Math.Min(k.Rows, v.Rows)));
            var a = Args().AddPointer(qt.Pointer).Add((long)qt.Stride).AddPointer(k.Pointer).Add((long)k.Stride).AddPointer(v.Pointer).Add((long)v.Stride)
                .AddPointer(slotPtr).Add(heads).Add(kvHeads).Add(qkDim).Add(vDim).Add(scale).AddPointer(o.Pointer).Add((long)o.Stride);
            Launch(new KernelKey("attention"), checked(qt.Rows * heads), AttentionThreads, a);
        }
    }

    /// <inheritdoc/>
    public void MlaAbsorbedAttention(ComputeTensor q, ComputeTensor latentCache, ComputeWeight wkvB, ReadOnlySpan<TokenSlot> slots, MlaShape shape, ComputeTensor output)
    {
        var qt = CudaTensor.Of(q);
        var cache = CudaTensor.Of(latentCache);
        var w = CudaWeight.Of(wkvB);
        var o = CudaTensor.Of(output);
        var (heads, nope, rope, vDim, latent, scale) = shape;
        var qkDim = nope + rope;
        if (heads <= 0 || qt.Cols != heads * qkDim || cache.Cols != latent + rope || w.Rows != heads * (nope + vDim) || w.Cols != latent || o.Cols != heads * vDim || slots.Length != qt.Rows)
            throw new ArgumentException($"absorbed MLA shapes: q {qt}, cache {cache}, kv_b {w}, out {o}, {shape}");
        if (latent > AttentionMaxDim) throw new NotSupportedException($"absorbed MLA: kv_lora_rank {latent} exceeds the kernel's {AttentionMaxDim}");
        if (qt.Rows == 0) return;
        lock (_lock)
        {
            var slotPtr = UploadInts(SlotInts(slots, cache.Rows));
            var pairs = checked(qt.Rows * heads);
            var ql = Scratch(ref _scratchA, (long)pairs * latent);   // (T·H, latent) q absorbed into the latent space
            var ol = Scratch(ref _scratchB, (long)pairs * latent);   // (T·H, latent) Σ p·c_kv

            var a = Args().AddPointer(qt.Pointer).Add((long)qt.Stride);
            w.AddTo(a).AddPointer(ql.Pointer).Add(heads).Add(nope).Add(rope).Add(vDim);
            Launch(new KernelKey("mla_q_absorb", w.Suffix), new LaunchDims((uint)pairs, (uint)((latent + AttentionThreads - 1) / AttentionThreads)), AttentionThreads, a);

            var b = Args().AddPointer(ql.Pointer).AddPointer(qt.Pointer).Add((long)qt.Stride).AddPointer(cache.Pointer).Add((long)cache.Stride)
                .AddPointer(slotPtr).Add(heads).Add(nope).Add(rope).Add(latent).Add(scale).AddPointer(ol.Pointer);
            Launch(new KernelKey("mla_attend"), pairs, AttentionThreads, b);

            var c = Args().AddPointer(ol.Pointer);
            w.AddTo(c).AddPointer(o.Pointer).Add((long)o.Stride).Add(heads).Add(nope).Add(vDim);
            Launch(new KernelKey("mla_out_absorb", w.Suffix), new LaunchDims((uint)pairs, (uint)((vDim + AttentionThreads - 1) / AttentionThreads)), AttentionThreads, c);
        }
    }
}
