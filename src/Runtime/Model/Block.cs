using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Compute;
using DeepSeek.Runtime.Generation;

namespace DeepSeek.Runtime.Model;

/// <summary>A pre-norm decoder block: x += Attn(norm(x)); x += FFN(norm(x)), FFN a dense MLP or DeepSeekMoE.</summary>
public sealed class Block
{
    private readonly IComputeBackend _backend;
    private readonly ComputeWeight _attnNorm, _ffnNorm;
    private readonly float _eps;

    /// <summary>Binds the block's weights; an MoE layer is built by <paramref name="moeLayers"/> when given, else a single-process <see cref="Model.Moe"/>.</summary>
    public Block(IComputeBackend backend, ModelConfig config, BlockWeights w, RopeTable rope, MlaMode mode, MoeLayerFactory? moeLayers = null)
    {
        _backend = backend;
        Layer = w.Layer;
        _eps = (float)config.RmsNormEps;
        _attnNorm = backend.Bind(w.AttnNorm);
        _ffnNorm = backend.Bind(w.FfnNorm);
        Attention = w.Mla is { } mla ? new Mla(backend, config, mla, rope, mode) : new Gqa(backend, config, w.Gqa!, rope);
        if (w.Moe is { } moe) MoeLayer = moeLayers is null ? Moe = new Moe(backend, config, moe) : moeLayers(backend, config, moe, w.Layer);
        else Mlp = new Mlp(backend, w.Mlp!);
    }

    /// <summary>Layer index.</summary>
    public int Layer { get; }

    /// <summary>The attention layer.</summary>
    public IAttention Attention { get; }

    /// <summary>The dense MLP (layers below <c>first_k_dense_replace</c>, dense models).</summary>
    public Mlp? Mlp { get; }

    /// <summary>The single-process MoE layer (null when a <see cref="MoeLayerFactory"/> built <see cref="MoeLayer"/>).</summary>
    public Moe? Moe { get; }

    /// <summary>The MoE layer the block runs: <see cref="Moe"/>, or what the <see cref="MoeLayerFactory"/> built.</summary>
    public IMoeLayer? MoeLayer { get; }

    /// <summary>Updates <paramref name="x"/> [T, hidden] in place; activations from <paramref name="scratch"/> when given.</summary>
    public void Forward(ComputeTensor x, ReadOnlySpan<TokenSlot> slots, LayerCache cache, ForwardTrace? trace, ActivationScratch? scratch = null)
    {
        scratch ??= new ActivationScratch(_backend);
        var h = scratch.Tensor(this, 0, x.Rows, x.Cols);
        _backend.RmsNorm(x, _attnNorm, _eps, h);
        _backend.Add(x, Attention.Forward(h, slots, cache, scratch));
        _backend.RmsNorm(x, _ffnNorm, _eps, h);
        _backend.Add(x, MoeLayer is not null ? MoeLayer.Forward(h, Layer, trace, scratch) : Mlp!.Forward(h, scratch));
    }
}
