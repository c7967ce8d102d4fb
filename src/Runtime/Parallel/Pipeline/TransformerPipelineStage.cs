using System.Numerics;
using DeepSeek.Runtime.Training;

namespace DeepSeek.Runtime.Distributed.Pipeline;

/// <summary>
/// One stage of a decoder model for <see cref="PipelineExecutor"/>: a contiguous run of decoder layers
/// (<see cref="TransformerStageLayout"/>) trained by a <see cref="TrainableModel{T}"/> planned for that range, so the arithmetic
/// is the single-process trainer's op for op. One micro-batch is one sequence of the batch (see <see cref="Prepare"/>).
/// </summary>
/// <remarks>
/// <para>Activations: the model's arena holds one sequence's activations, but a pipeline has several micro-batches in flight, so a
/// stage keeps only each micro-batch's input (T × hidden) and recomputes its layers' forward just before their backward
/// (Megatron's full recomputation at stage granularity): the same values bit for bit, for one more forward of the stage.</para>
/// <para>The last stage ends in the loss: its output is one number, the micro-batch's share of the batch loss
/// (mainShare·L_main + λ·mtpShare·L_mtp, scaled as <see cref="TrainableModel{T}.ForwardBackward(IReadOnlyList{TrainingSequence}, ModelParameters{T}, T, BatchTotals?)"/>
/// scales it), and <see cref="TransformerPipeline{T}"/> pairs it with a loss that is that number (∂loss/∂output = 1). Since its
/// output gradient is known when its forward runs, the last stage runs its backward right away and keeps the results instead
/// of recomputing. The balance loss of every stage's MoE blocks enters the gradients with the constant weight 1/sequences, as
/// in the single-process model, and is reported per stage.</para>
/// <para>The interface is float64; a float model's activations and gradients are widened at the boundary (exact), and the
/// executor sums the per-micro-batch gradients in float64, which is at least as accurate as the single-process float sum.</para>
/// </remarks>
internal sealed class TransformerPipelineStage<T> : IPipelineStage where T : IFloatingPointIeee754<T>
{
    private readonly TrainableModel<T> _model;
    private readonly ModelParameters<T> _grads;                 // one micro-batch's gradient (only the held tensors are used)
    private readonly (string Name, T[] Slot)[] _held;           // the stage's tensors' gradient slots, in flattening order
    private readonly bool _first, _last;
    private readonly int _width;                                // T × hidden
    private readonly Dictionary<int, T[]> _inputs = [];         // micro-batch → kept input (T, hidden), until its backward
    private readonly Dictionary<int, (double[] InputGradient, double[] Gradient)> _eager = [];   // last stage: its backward, done in the forward
    private readonly Dictionary<int, double[]> _pending = [];   // micro-batch → its parameter gradient, until BackwardWeight
    private IReadOnlyList<TrainingSequence> _batch = [];
    private T _mtpWeight = T.Zero;
    private BatchTotals _totals;
    private T[] _main = [], _mtp = [], _balance = [];           // per micro-batch, scaled shares of the batch losses

    public TransformerPipelineStage(ModelParameters<T> parameters, int sequenceLength, double balanceLossAlpha, TransformerStageLayout layout, int stage)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(layout);
        Stage = stage;
        _first = stage == 0;
        _last = stage == layout.Stages - 1;
        _model = TrainableModel<T>.ForLayers(parameters, sequenceLength, balanceLossAlpha, layout.Layers(stage));
        _grads = ModelParameters<T>.ZerosLike(parameters);
        _held = _grads.Tensors().Where(t => layout.Holds(stage, t.Name)).Select(t => (t.Name, t.Values)).ToArray();
        _width = sequenceLength * parameters.Config.HiddenSize;
        ParameterCount = checked((int)_held.Sum(t => (long)t.Slot.Length));
    }

    /// <summary>The model stage this object runs.</summary>
    public int Stage { get; }

    /// <summary>The tensors this stage trains, in the order of its gradient vector.</summary>
    public IEnumerable<(string Name, int Length)> Tensors => _held.Select(t => (t.Name, t.Slot.Length));

    /// <summary>Tokens each expert of this stage's MoE layers received over the step's micro-batches (null for other layers).</summary>
    public int[]?[] ExpertLoad => _model.ExpertLoad;

    /// <inheritdoc/>
    public int InputSize => _first ? _model.SequenceLength : _width;

    /// <inheritdoc/>
    public int OutputSize => _last ? 1 : _width;

    /// <inheritdoc/>
    public int ParameterCount { get; }

    /// <summary>Sets the step's batch (micro-batch m = sequence m), λ of the MTP loss and the totals the loss means divide by.</summary>
    public void Prepare(IReadOnlyList<TrainingSequence> batch, T mtpWeight, BatchTotals totals)
    {
        _batch = batch;
        _mtpWeight = mtpWeight;
        _totals = totals;
        (_main, _mtp, _balance) = (new T[batch.Count], new T[batch.Count], new T[batch.Count]);
        foreach (var load in _model.ExpertLoad) if (load is not null) Array.Clear(load);
        _inputs.Clear();
        _eager.Clear();
        _pending.Clear();
    }

    /// <summary>This stage's parts of the step's losses (main, MTP, balance), each summed over micro-batches in micro-batch order.</summary>
    public (T Main, T Mtp, T Balance) Losses()
    {
        T main = T.Zero, mtp = T.Zero, balance = T.Zero;
        for (var m = 0; m < _main.Length; m++) (main, mtp, balance) = (main + _main[m], mtp + _mtp[m], balance + _balance[m]);
        return (main, mtp, balance);
    }

    /// <inheritdoc/>
    public void Forward(int microBatch, ReadOnlySpan<double> input, Span<double> output)
    {
        var sequence = Sequence(microBatch);
        var x = _model.Stream;
        if (_first)
        {
            for (var t = 0; t < input.Length; t++)
                if (input[t] != sequence.Tokens[t]) throw new ArgumentException($"micro-batch {microBatch}: the input is not sequence {microBatch}'s tokens");
            _model.EmbedTokens(sequence.Tokens);
        }
        else
        {
            Narrow(input, x);
            if (!_last) _inputs[microBatch] = x.ToArray();
        }
        var balanceShare = T.One / T.CreateChecked(_totals.Sequences);
        var balance = _model.ForwardLayers(countLoad: true);
        if (!_last)
        {
            _balance[microBatch] = balance * balanceShare;
            Widen(x, output);
            return;
        }

        // The last stage: loss, then its whole backward now (its output gradient is 1 by construction).
        var useMtp = _model.HasMtp && _mtpWeight != T.Zero;
        var mainShare = _totals.CountedPositions == 0 ? T.Zero : T.CreateChecked(sequence.CountedPositions) / T.CreateChecked(_totals.CountedPositions);
        var mtpShare = !useMtp || _totals.CountedMtpPositions == 0 ? T.Zero : T.CreateChecked(sequence.CountedMtpPositions) / T.CreateChecked(_totals.CountedMtpPositions);
        _model.HeadForward();
        ClearGradients();
        var (main, mtp, mtpBalance) = _model.HeadLossBackward(sequence, _grads, mainShare, _mtpWeight * mtpShare, balanceShare);
        _model.BackwardLayers(_grads, balanceShare);
        if (_first) _model.EmbedBackward(sequence.Tokens, _grads);
        (_main[microBatch], _mtp[microBatch], _balance[microBatch]) = (main * mainShare, mtp * mtpShare, (balance + mtpBalance) * balanceShare);
        output[0] = double.CreateChecked(main * mainShare + _mtpWeight * (mtp * mtpShare));
        var inputGradient = new double[_first ? 0 : _width];
        if (!_first) Widen(_model.StreamGradient, inputGradient);
        _eager[microBatch] = (inputGradient, FlattenGradients());
    }

    /// <inheritdoc/>
    public void BackwardInput(int microBatch, ReadOnlySpan<double> outputGradient, Span<double> inputGradient)
    {
        if (_last)
        {
            if (!_eager.Remove(microBatch, out var done)) throw new InvalidOperationException($"stage {Stage}: backward of micro-batch {microBatch} before its forward");
            // ∂loss/∂output is 1 under TransformerPipeline's loss; any other weight scales the kept results linearly.
            var scale = outputGradient[0];
            if (scale != 1)
            {
                for (var i = 0; i < done.InputGradient.Length; i++) done.InputGradient[i] *= scale;
                for (var i = 0; i < done.Gradient.Length; i++) done.Gradient[i] *= scale;
            }
            done.InputGradient.CopyTo(inputGradient);
            _pending[microBatch] = done.Gradient;
            return;
        }

        var sequence = Sequence(microBatch);
        var balanceShare = T.One / T.CreateChecked(_totals.Sequences);
        // Recompute this stage's forward from its kept input, then back through it.
        if (_first) _model.EmbedTokens(sequence.Tokens);
        else
        {
            if (!_inputs.Remove(microBatch, out var kept)) throw new InvalidOperationException($"stage {Stage}: backward of micro-batch {microBatch} before its forward");
            kept.CopyTo(_model.Stream);
        }
        _model.ForwardLayers(countLoad: false);
        Narrow(outputGradient, _model.StreamGradient);
        ClearGradients();
        _model.BackwardLayers(_grads, balanceShare);
        if (_first) _model.EmbedBackward(sequence.Tokens, _grads);
        else Widen(_model.StreamGradient, inputGradient);
        _pending[microBatch] = FlattenGradients();
    }

    /// <inheritdoc/>
    public void BackwardWeight(int microBatch, Span<double> parameterGradient)
    {
        if (!_pending.Remove(microBatch, out var gradient)) throw new InvalidOperationException($"stage {Stage}: weight backward of micro-batch {microBatch} before its input backward");
        for (var i = 0; i < gradient.Length; i++) parameterGradient[i] += gradient[i];
    }

    private TrainingSequence Sequence(int microBatch)
    {
        if ((uint)microBatch >= (uint)_batch.Count) throw new ArgumentOutOfRangeException(nameof(microBatch), microBatch, $"the step's batch has {_batch.Count} sequences");
        return _batch[microBatch];
    }

    private void ClearGradients()
    {
        foreach (var (_, slot) in _held) Array.Clear(slot);
    }

    private double[] FlattenGradients()
    {
        var flat = new double[ParameterCount];
        var at = 0;
        foreach (var (_, slot) in _held)
        {
            Widen(slot, flat.AsSpan(at, slot.Length));
            at += slot.Length;
        }
        return flat;
    }

    private static void Widen(ReadOnlySpan<T> from, Span<double> to)
    {
        for (var i = 0; i < from.Length; i++) to[i] = double.CreateChecked(from[i]);
    }

    private static void Narrow(ReadOnlySpan<double> from, Span<T> to)
    {
        if (from.Length != to.Length) throw new ArgumentException($"{from.Length} values for a stage boundary of {to.Length}");
        for (var i = 0; i < from.Length; i++) to[i] = T.CreateChecked(from[i]);
    }
}
