using DeepSeek.Runtime.Training.Ops;

namespace DeepSeek.Runtime.Training;

/// <summary>
/// The pieces of a training step — embedding, a run of blocks, the head with its losses, and their backwards — that the
/// whole-model methods are made of, exposed to a pipeline stage (<c>TransformerPipelineStage</c>) that runs only its
/// contiguous share of the layers. The whole model calls the same pieces in the same order, so a stage's arithmetic is
/// the single-process arithmetic, op for op.
/// </summary>
public sealed partial class TrainableModel<T>
{
    /// <summary>
    /// Plans training of layers <paramref name="layers"/> only (one pipeline stage): their blocks, plus model.norm, the head
    /// and MTP when the range ends at the last layer. Only the piecewise methods below may be called on it.
    /// </summary>
    internal static TrainableModel<T> ForLayers(ModelParameters<T> parameters, int sequenceLength, double balanceLossAlpha, Range layers) =>
        new(parameters, sequenceLength, balanceLossAlpha, recomputeActivations: false, moeBranches: null, layers);

    /// <summary>The first layer this model trains (0 for the whole model).</summary>
    internal int FirstLayer => _firstLayer;

    /// <summary>Layers this model trains.</summary>
    internal int LayerCount => _blocks.Length;

    /// <summary>Whether this model holds model.norm, the head and MTP (the whole model, or the last stage).</summary>
    internal bool HasHead => _hasHead;

    /// <summary>Tokens per sequence.</summary>
    internal int SequenceLength => _tokens;

    /// <summary>(T, hidden) the residual stream the blocks update in place: a stage's input is copied here, its output read from here.</summary>
    internal Span<T> Stream => _acts[_x];

    /// <summary>(T, hidden) ∂L/∂stream: a stage's output gradient is copied here; after <see cref="BackwardLayers"/> it is ∂L/∂input.</summary>
    internal Span<T> StreamGradient => _acts[_dx];

    /// <summary>Stream ← the embeddings of <paramref name="tokens"/>.</summary>
    internal void EmbedTokens(int[] tokens) => EmbeddingOp.Forward<T>(tokens, _p.Embed, _acts[_x], _p.Config.HiddenSize);

    /// <summary>Runs this model's blocks over the stream; returns their balance loss; adds their expert load when <paramref name="countLoad"/>.</summary>
    internal T ForwardLayers(bool countLoad)
    {
        var x = _acts[_x];                                              // (T, hidden) residual stream
        var balance = T.Zero;
        for (var i = 0; i < _blocks.Length; i++)
        {
            var l = _firstLayer + i;
            var b = _blocks[i];
            if (_inputs is not null) x.CopyTo(_acts[_inputs[i]]);
            b.Forward(_p.Blocks[l], x, _p.RouterBias[l]);
            if (countLoad) Accumulate(l, b);
            balance += b.BalanceLoss;
        }
        return balance;
    }

    /// <summary>Through this model's blocks in reverse: the stream gradient becomes ∂L/∂(the first block's input); adds their parameter gradients into <paramref name="g"/>.</summary>
    internal void BackwardLayers(ModelParameters<T> g, T balanceScale)
    {
        var dx = _acts[_dx];
        for (var i = _blocks.Length - 1; i >= 0; i--)
        {
            var l = _firstLayer + i;
            // Recomputation: rerun the block from its kept input (consumed in place) to restore its activations.
            if (_inputs is not null) _blocks[i].Forward(_p.Blocks[l], _acts[_inputs[i]], _p.RouterBias[l]);
            _blocks[i].Backward(_p.Blocks[l], dx, g.Blocks[l], balanceScale);
        }
    }

    /// <summary>Adds the stream gradient into the embedding rows of <paramref name="tokens"/>.</summary>
    internal void EmbedBackward(int[] tokens, ModelParameters<T> g) => EmbeddingOp.Backward<T>(tokens, _acts[_dx], g.Embed, _p.Config.HiddenSize);

    /// <summary>hn = model.norm(stream), logits = head(hn).</summary>
    internal void HeadForward()
    {
        RequireHead();
        var c = _p.Config;
        int t = _tokens, h = c.HiddenSize;
        var hn = _acts[_hn];
        RmsNormOp.Forward<T>(_acts[_x], _p.Norm, T.CreateChecked(c.RmsNormEps), hn, _acts[_rstdN], t, h);
        LinearOp.Forward<T>(hn, _p.Head ?? _p.Embed, [], _acts[_logits], t, h, c.VocabSize);
    }

    /// <summary>
    /// After <see cref="HeadForward"/>: the losses of <paramref name="sequence"/> (main and MTP cross-entropy, the MTP block's
    /// balance loss, unscaled) and their backward down to the stream gradient, the gradients scaled as in
    /// <see cref="ForwardBackward(IReadOnlyList{TrainingSequence}, ModelParameters{T}, T, BatchTotals?)"/>.
    /// </summary>
    internal (T Main, T Mtp, T MtpBalance) HeadLossBackward(TrainingSequence sequence, ModelParameters<T> g, T mainScale, T mtpScale, T balanceScale)
    {
        RequireHead();
        Check(sequence);
        var losses = LossBackward(sequence, g, mainScale, _mtpBlock is null ? T.Zero : mtpScale, balanceScale);
        NormBackward(g);
        return losses;
    }

    /// <summary>Whether this model runs MTP (it holds the head, the checkpoint has an MTP module and sequences have ≥ 3 tokens).</summary>
    internal bool HasMtp => _mtpBlock is not null;

    /// <summary>Stream gradient ← ∂L/∂stream through model.norm, from ∂L/∂hn in dhn.</summary>
    private void NormBackward(ModelParameters<T> g)
    {
        var dx = _acts[_dx];
        dx.Clear();
        RmsNormOp.Backward<T>(_acts[_dhn], _acts[_x], _p.Norm, _acts[_rstdN], dx, g.Norm, _tokens, _p.Config.HiddenSize);
    }

    private void RequireHead()
    {
        if (!_hasHead) throw new InvalidOperationException($"this model trains layers {_firstLayer}…{_firstLayer + _blocks.Length - 1} without the head");
    }

    private void RequireWholeModel()
    {
        if (_firstLayer != 0 || _blocks.Length != _p.Config.NumHiddenLayers)
            throw new InvalidOperationException($"this model trains only layers {_firstLayer}…{_firstLayer + _blocks.Length - 1} (a pipeline stage); whole-batch methods need the whole model");
    }
}
