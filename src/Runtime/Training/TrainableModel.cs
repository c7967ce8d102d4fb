using System.Numerics;
using DeepSeek.Runtime.Model;
using DeepSeek.Runtime.Tensors;
using DeepSeek.Runtime.Training.Layers;
using DeepSeek.Runtime.Training.Lora;
using DeepSeek.Runtime.Training.Ops;

namespace DeepSeek.Runtime.Training;

/// <summary>One training sequence: its tokens and which next-token predictions count toward the loss.</summary>
/// <param name="Tokens">Token ids (positions 0 … T−1).</param>
/// <param name="LossMask">
/// LossMask[t] says whether predicting Tokens[t+1] at position t counts (length ≥ T−1); null counts every position.
/// SFT on chat data masks everything but the assistant's tokens; padding is masked too.
/// </param>
/// <param name="Weights">
/// Weights[t] weighs position t's prediction of Tokens[t+1] in the weighted objective of
/// <see cref="TrainableModel{T}.ForwardBackwardWeighted(IReadOnlyList{TrainingSequence}, ModelParameters{T}, T, out T[][])"/>
/// (length ≥ T−1); null weighs every counted position 1. Ignored by the mean cross-entropy of <c>ForwardBackward</c>.
/// </param>
public sealed record TrainingSequence(int[] Tokens, bool[]? LossMask = null, float[]? Weights = null)
{
    /// <summary>Whether position <paramref name="t"/>'s prediction of token t+1 counts.</summary>
    public bool Counts(int t) => t + 1 < Tokens.Length && (LossMask is null || LossMask[t]);

    /// <summary>Counted next-token predictions.</summary>
    public int CountedPositions
    {
        get
        {
            var n = 0;
            for (var t = 0; t < Tokens.Length; t++) if (Counts(t)) n++;
            return n;
        }
    }

    /// <summary>Position <paramref name="t"/>'s weight in the weighted objective: 0 where it does not count, else Weights[t] (1 without weights).</summary>
    public float Weight(int t) => !Counts(t) ? 0f : Weights is null ? 1f : Weights[t];

    /// <summary>Counted MTP predictions (position t predicts token t+2; counted when the t+1 prediction is).</summary>
    public int CountedMtpPositions
    {
        get
        {
            var n = 0;
            for (var t = 0; t + 2 < Tokens.Length; t++) if (Counts(t + 1)) n++;
            return n;
        }
    }
}

/// <summary>Totals of a whole batch that the means of <see cref="TrainableModel{T}.ForwardBackward(IReadOnlyList{TrainingSequence}, ModelParameters{T}, T, BatchTotals?)"/> divide by.</summary>
/// <param name="CountedPositions">Counted next-token predictions of the whole batch.</param>
/// <param name="CountedMtpPositions">Counted MTP predictions of the whole batch.</param>
/// <param name="Sequences">Sequences in the whole batch.</param>
public readonly record struct BatchTotals(int CountedPositions, int CountedMtpPositions, int Sequences)
{
    /// <summary>The totals of <paramref name="batch"/>.</summary>
    public static BatchTotals Of(IReadOnlyList<TrainingSequence> batch) =>
        new(batch.Sum(s => s.CountedPositions), batch.Sum(s => s.CountedMtpPositions), batch.Count);
}

/// <summary>Losses of one batch.</summary>
/// <param name="Total">L_main + λ·L_mtp + L_bal, what the gradients are of.</param>
/// <param name="Main">Mean next-token cross-entropy over the batch's counted positions (all B×(T−1) without masks).</param>
/// <param name="Mtp">Mean MTP cross-entropy over the batch's counted positions (B×(T−2) without masks; 0 without MTP or with λ = 0).</param>
/// <param name="Balance">
/// Sequence-wise MoE balance loss: Σ over the MoE layers (the MTP block's included where it runs) of α Σ_i f_i P_i, averaged
/// over the batch's sequences (0 with α = 0).
/// </param>
public readonly record struct BatchLoss<T>(T Total, T Main, T Mtp, T Balance);

/// <summary>
/// A model being trained: forward and backward over batches of token sequences (each causal on its own, positions
/// 0 … T−1), loss = mean next-token cross-entropy + λ × the MTP loss (DeepSeek-V3 §2.2: the MTP module predicts
/// t_{i+2} from the main model's post-norm h_i and the embedding of t_{i+1}). Sequences are processed one after
/// another, each forward then backward, so activations of one sequence are alive at a time. Optionally adds the
/// sequence-wise balance loss of DeepSeek-V3 §2.1.2 (α) and recomputes each block's activations just before its backward
/// (keeping only the blocks' inputs) to save memory.
/// </summary>
/// <remarks>
/// Every activation and activation gradient of a sequence is planned at construction from (T, config) — sequences run
/// one at a time, so the batch size does not enter — in two arenas (llm.c's habit): the kept activations, and the
/// blocks' scratch, one overlay shared by all blocks because one block runs at a time. After the first step a training
/// step allocates nothing that grows with the tokens.
/// </remarks>
public sealed partial class TrainableModel<T> where T : IFloatingPointIeee754<T>
{
    private readonly ModelParameters<T> _p;
    private readonly int _tokens;
    private readonly BlockTrainer<T>[] _blocks;          // per layer of [_firstLayer, _firstLayer + Length); with recomputation, one shared instance per kind
    private readonly int _firstLayer;                   // 0, except for a pipeline stage's model (TrainableModel.Stages.cs)
    private readonly bool _hasHead;                     // plans model.norm, lm_head and MTP (the whole model, or the last pipeline stage)
    private readonly ArenaSlice[]? _inputs;             // with recomputation: each block's input, kept for its backward
    private readonly BlockTrainer<T>? _mtpBlock;
    private readonly ArenaArray<T> _acts = new(), _scratch = new();
    private readonly ArenaSlice _x, _hn, _rstdN, _logits, _dLogits, _dhn, _dx, _logProbs, _weights;
    private readonly ArenaSlice _e, _cat, _en, _hh, _rstdE, _rstdH, _xm, _xOut, _hm, _rstdM, _dhm, _dxm, _dcat, _den, _dhh, _de;
    private readonly int[] _targets, _mtpTargets;
    private LoraBranches<T>? _lora;

    /// <summary>
    /// Prepares training over sequences of exactly <paramref name="sequenceLength"/> tokens. <paramref name="balanceLossAlpha"/>
    /// is α of the sequence-wise MoE balance loss added to <see cref="ForwardBackward(IReadOnlyList{TrainingSequence}, ModelParameters{T}, T)"/>
    /// (V3: 0.0001; 0 = off, at no cost). <paramref name="recomputeActivations"/> keeps only each block's input during the
    /// forward and recomputes the block just before its backward, with one block trainer per kind (dense, MoE): the same
    /// results bit for bit, for about one more forward pass of compute.
    /// </summary>
    public TrainableModel(ModelParameters<T> parameters, int sequenceLength, double balanceLossAlpha = 0, bool recomputeActivations = false)
        : this(parameters, sequenceLength, balanceLossAlpha, recomputeActivations, moeBranches: null)
    {
    }

    /// <summary>As the public constructor, with the MoE branches made by <paramref name="moeBranches"/> (see below) over every layer.</summary>
    internal TrainableModel(ModelParameters<T> parameters, int sequenceLength, double balanceLossAlpha, bool recomputeActivations, MoeBranchFactory<T>? moeBranches)
        : this(parameters, sequenceLength, balanceLossAlpha, recomputeActivations, moeBranches, layers: null)
    {
    }

    /// <summary>
    /// As the public constructor, with the MoE branches made by <paramref name="moeBranches"/> (e.g. expert-parallel layers whose
    /// forward and backward are collective over an expert group; every rank of it must then run the same sequence of
    /// forwards and backwards).
    /// </summary>
    /// <remarks>
    /// <paramref name="layers"/> (null: all) plans only the blocks of that range — a pipeline stage's share of the model;
    /// model.norm, the head and MTP are planned only when the range ends at the last layer.
    /// </remarks>
    private TrainableModel(ModelParameters<T> parameters, int sequenceLength, double balanceLossAlpha, bool recomputeActivations, MoeBranchFactory<T>? moeBranches, Range? layers)
    {
        _p = parameters ?? throw new ArgumentNullException(nameof(parameters));
        ArgumentOutOfRangeException.ThrowIfLessThan(sequenceLength, 2);
        if (!(balanceLossAlpha >= 0) || double.IsInfinity(balanceLossAlpha)) throw new ArgumentOutOfRangeException(nameof(balanceLossAlpha), balanceLossAlpha, "must be finite and ≥ 0");
        _tokens = sequenceLength;
        BalanceLossAlpha = balanceLossAlpha;
        RecomputeActivations = recomputeActivations;
        var c = parameters.Config;
        var alpha = T.CreateChecked(balanceLossAlpha);
        var rope = RopeTable.For(c, sequenceLength);
        int t = sequenceLength, h = c.HiddenSize, vocab = c.VocabSize;
        var (first, count) = (layers ?? Range.All).GetOffsetAndLength(c.NumHiddenLayers);
        _firstLayer = first;
        _hasHead = first + count == c.NumHiddenLayers;
        BlockTrainer<T> Block(int layer, int tokens) => new(c, rope, tokens, layer, alpha, _acts, _scratch, moeBranches);
        if (recomputeActivations)
        {
            BlockTrainer<T>? dense = null, moe = null;
            _blocks = Enumerable.Range(first, count)
                .Select(l => c.IsMoeLayer(l) ? moe ??= Block(l, t) : dense ??= Block(l, t))
                .ToArray();
            _inputs = Enumerable.Range(first, count).Select(l => _acts.Add($"layer{l}.input", t * h)).ToArray();   // (T, hidden) each
        }
        else
        {
            _blocks = Enumerable.Range(first, count).Select(l => Block(l, t)).ToArray();
        }
        if (_hasHead && parameters.Mtp.Length > 0 && sequenceLength >= 3)
            _mtpBlock = Block(parameters.Mtp[0].Layer, sequenceLength - 1);
        ExpertLoad = Enumerable.Range(0, c.NumHiddenLayers + c.NumNextNPredictLayers).Select(l => c.IsMoeLayer(l) ? new int[c.NRoutedExperts] : null).ToArray();

        _x = _acts.Add("x", t * h);                                     // (T, hidden) residual stream
        _hn = _acts.Add("hn", t * h);                                   // (T, hidden) after model.norm
        _rstdN = _acts.Add("rstd_n", t);
        var headRows = _hasHead ? t : 0;                                // a stage without the head needs no logits
        _logits = _acts.Add("logits", (long)headRows * vocab);          // (T, vocab); the MTP head reuses it
        _dLogits = _acts.Add("d_logits", (long)headRows * vocab);       // (T, vocab)
        _dhn = _acts.Add("d_hn", t * h);
        _dx = _acts.Add("d_x", t * h);
        _logProbs = _acts.Add("log_probs", t);                          // (T)
        _weights = _acts.Add("weights", t);                             // (T)
        _targets = new int[t];
        var n = Math.Max(0, t - 1);                                     // MTP positions
        _mtpTargets = new int[n];
        if (_mtpBlock is not null)
        {
            _e = _acts.Add("mtp.e", n * h);                             // (n, hidden) embeddings of t_{i+1}
            _cat = _acts.Add("mtp.cat", n * 2 * h);                     // (n, 2·hidden) = [enorm(e) | hnorm(hn)]
            _en = _acts.Add("mtp.en", n * h);
            _hh = _acts.Add("mtp.hh", n * h);
            _rstdE = _acts.Add("mtp.rstd_e", n);
            _rstdH = _acts.Add("mtp.rstd_h", n);
            _xm = _acts.Add("mtp.x", n * h);                            // (n, hidden) block stream
            _xOut = _acts.Add("mtp.x_out", n * h);                      // (n, hidden) block output
            _hm = _acts.Add("mtp.hm", n * h);                           // (n, hidden) after shared_head.norm
            _rstdM = _acts.Add("mtp.rstd_m", n);
            _dhm = _acts.Add("mtp.d_hm", n * h);
            _dxm = _acts.Add("mtp.d_x", n * h);
            _dcat = _acts.Add("mtp.d_cat", n * 2 * h);
            _den = _acts.Add("mtp.d_en", n * h);
            _dhh = _acts.Add("mtp.d_hh", n * h);
            _de = _acts.Add("mtp.d_e", n * h);
        }
        _acts.Allocate();
        _scratch.Allocate();
    }

    /// <summary>α of the sequence-wise MoE balance loss (0 = off).</summary>
    public double BalanceLossAlpha { get; }

    /// <summary>Whether block activations are recomputed before each block's backward instead of kept.</summary>
    public bool RecomputeActivations { get; }

    /// <summary>The parameters being trained.</summary>
    public ModelParameters<T> Parameters => _p;

    /// <summary>Tokens each expert received over the last batch, per layer (null for dense layers).</summary>
    public int[]?[] ExpertLoad { get; }

    /// <summary>Bytes of the planned activations, activation gradients and scratch of one sequence (LoRA branches included).</summary>
    public long ActivationBytes => _acts.Bytes + _scratch.Bytes + (_lora?.ActivationBytes ?? 0);

    /// <summary>Which micro-batch the LoRA dropout masks are drawn for (set by the trainer; a pure function of it, so resumes repeat it).</summary>
    internal ulong DropoutStep { get; set; }

    /// <summary>Adds LoRA branches to every projection they adapt (the frozen weights stay in <see cref="Parameters"/>).</summary>
    internal void AttachLora(LoraBranches<T> branches)
    {
        _lora = branches ?? throw new ArgumentNullException(nameof(branches));
        foreach (var b in _blocks) b.Lora = branches;
        if (_mtpBlock is not null) _mtpBlock.Lora = branches;
    }

    /// <summary>
    /// Runs the batch and accumulates ∂(L_main + λ·L_mtp + L_bal)/∂θ into <paramref name="grads"/>; each cross-entropy is
    /// the mean over the counted positions of the whole batch, the balance loss the mean over its sequences. Sequences
    /// must have the length given at construction.
    /// </summary>
    public BatchLoss<T> ForwardBackward(IReadOnlyList<TrainingSequence> batch, ModelParameters<T> grads, T mtpWeight) =>
        ForwardBackward(batch, grads, mtpWeight, totals: null);

    /// <summary>
    /// As <see cref="ForwardBackward(IReadOnlyList{TrainingSequence}, ModelParameters{T}, T)"/> for a part of a larger batch:
    /// the means are taken over <paramref name="totals"/> (the whole batch's counted positions and sequences), so the
    /// gradients and losses of the parts (e.g. of data-parallel ranks) add up to the whole batch's.
    /// </summary>
    public BatchLoss<T> ForwardBackward(IReadOnlyList<TrainingSequence> batch, ModelParameters<T> grads, T mtpWeight, BatchTotals? totals)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ArgumentNullException.ThrowIfNull(grads);
        if (batch.Count == 0) throw new ArgumentException("empty batch", nameof(batch));
        RequireWholeModel();
        foreach (var load in ExpertLoad) if (load is not null) Array.Clear(load);
        var useMtp = _mtpBlock is not null && mtpWeight != T.Zero;
        int counted = 0, countedMtp = 0;
        if (totals is { } whole)
        {
            counted = whole.CountedPositions;
            countedMtp = useMtp ? whole.CountedMtpPositions : 0;
        }
        else
        {
            for (var b = 0; b < batch.Count; b++)
            {
                counted += batch[b].CountedPositions;
                if (useMtp) countedMtp += batch[b].CountedMtpPositions;
            }
        }
        T main = T.Zero, mtp = T.Zero, balance = T.Zero;
        var balanceShare = T.One / T.CreateChecked(totals?.Sequences ?? batch.Count);
        for (var b = 0; b < batch.Count; b++)
        {
            var sequence = batch[b];
            if (sequence.Tokens.Length != _tokens) throw new ArgumentException($"sequence of {sequence.Tokens.Length} tokens; this model trains on {_tokens}", nameof(batch));
            // Each sequence's cross-entropy is a mean over its own counted rows; weighting it by its share of the
            // batch's rows makes the sum the batch mean.
            var mainShare = counted == 0 ? T.Zero : T.CreateChecked(sequence.CountedPositions) / T.CreateChecked(counted);
            var mtpShare = countedMtp == 0 ? T.Zero : T.CreateChecked(sequence.CountedMtpPositions) / T.CreateChecked(countedMtp);
            Train(b);
            var (m, x, bal) = Sequence(sequence, grads, mainShare, mtpWeight * mtpShare, balanceShare);
            main += m * mainShare;
            mtp += x * mtpShare;
            balance += bal * balanceShare;
        }
        return new BatchLoss<T>(main + mtpWeight * mtp + balance, main, mtp, balance);
    }

    /// <summary>
    /// Runs the batch and accumulates the gradient of the weighted negative log-likelihood
    /// scale · Σ_sequences Σ_t w_t · (−log π(token_{t+1} | tokens_≤t)), with w_t = <see cref="TrainingSequence.Weight"/>
    /// (0 where a position does not count), into <paramref name="grads"/>; no MTP and no normalisation (the weights and
    /// <paramref name="scale"/> carry it) and no balance loss. Returns the objective; <paramref name="tokenLogProbs"/>[b][t] is
    /// log π(token_{t+1} | ≤ t) of sequence b (length T−1; 0 where the position does not count).
    /// </summary>
    public T ForwardBackwardWeighted(IReadOnlyList<TrainingSequence> batch, ModelParameters<T> grads, T scale, out T[][] tokenLogProbs)
    {
        ArgumentNullException.ThrowIfNull(batch);
        return ForwardBackwardWeighted(batch, grads, scale, (b, _) => Weights(batch[b]), out tokenLogProbs);
    }

    /// <summary>
    /// As <see cref="ForwardBackwardWeighted(IReadOnlyList{TrainingSequence}, ModelParameters{T}, T, out T[][])"/>, but each
    /// sequence's weights come from <paramref name="weights"/>(b, logProbs) called after its forward pass with the per-position
    /// log-probabilities of the current weights (length T−1): objectives whose per-token weights depend on π itself, such as
    /// GRPO's ratio π/π_old, need exactly one forward per sequence this way. The weights are constants to the gradient
    /// (stop-gradient); entries at positions that do not count are ignored.
    /// </summary>
    public T ForwardBackwardWeighted(IReadOnlyList<TrainingSequence> batch, ModelParameters<T> grads, T scale, Func<int, T[], T[]> weights, out T[][] tokenLogProbs)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ArgumentNullException.ThrowIfNull(grads);
        ArgumentNullException.ThrowIfNull(weights);
        if (batch.Count == 0) throw new ArgumentException("empty batch", nameof(batch));
        RequireWholeModel();
        foreach (var load in ExpertLoad) if (load is not null) Array.Clear(load);
        tokenLogProbs = new T[batch.Count][];
        var total = T.Zero;
        var vocab = _p.Config.VocabSize;
        for (var b = 0; b < batch.Count; b++)
        {
            var sequence = batch[b];
            Check(sequence);
            Train(b);
            Forward(sequence.Tokens, countLoad: true);
            var targets = Targets(sequence);
            Span<T> logits = _acts[_logits], logProbs = _acts[_logProbs], w = _acts[_weights], dLogits = _acts[_dLogits];
            CrossEntropyOp.LogProbs<T>(logits, targets, logProbs, vocab);
            var lp = logProbs[..(_tokens - 1)].ToArray();
            var given = weights(b, (T[])lp.Clone());
            if (given is null || given.Length < _tokens - 1) throw new InvalidOperationException($"weights for sequence {b} must have length ≥ {_tokens - 1}");
            for (var t = 0; t < _tokens - 1; t++) w[t] = sequence.Counts(t) ? given[t] : T.Zero;
            w[_tokens - 1] = T.Zero;
            total += CrossEntropyOp.WeightedForwardBackward<T>(logits, targets, w, dLogits, logProbs, vocab, scale);
            var dhn = _acts[_dhn];
            dhn.Clear();
            LinearOp.Backward<T>(dLogits, _acts[_hn], _p.Head ?? _p.Embed, dhn, grads.Head ?? grads.Embed, [], _tokens, _p.Config.HiddenSize, vocab);
            Backward(sequence.Tokens, grads, T.Zero);
            tokenLogProbs[b] = lp;
        }
        return total;
    }

    /// <summary>
    /// Forward only: log π(token_{t+1} | ≤ t) for t = 0 … T−2 (0 where the position does not count), e.g. for the old or
    /// the reference policy. Leaves <see cref="ExpertLoad"/> alone. No LoRA dropout: this is an inference forward.
    /// </summary>
    public T[] TokenLogProbs(TrainingSequence sequence)
    {
        ArgumentNullException.ThrowIfNull(sequence);
        Check(sequence);
        RequireWholeModel();
        if (_lora is not null) _lora.Training = false;
        Forward(sequence.Tokens, countLoad: false);
        var logProbs = _acts[_logProbs];
        CrossEntropyOp.LogProbs<T>(_acts[_logits], Targets(sequence), logProbs, _p.Config.VocabSize);
        return logProbs[..(_tokens - 1)].ToArray();
    }

    /// <summary>Dropout on for sequence <paramref name="b"/> of the current micro-batch (a stream of masks of its own).</summary>
    private void Train(int b)
    {
        if (_lora is null) return;
        _lora.Training = true;
        _lora.Stream = LoraBranches<T>.Mix(DropoutStep) + (ulong)b;
    }

    private static T[] Weights(TrainingSequence s)
    {
        var w = new T[Math.Max(0, s.Tokens.Length - 1)];
        for (var t = 0; t < w.Length; t++) w[t] = T.CreateChecked(s.Weight(t));
        return w;
    }

    private void Check(TrainingSequence sequence)
    {
        if (sequence.Tokens.Length != _tokens) throw new ArgumentException($"sequence of {sequence.Tokens.Length} tokens; this model trains on {_tokens}", nameof(sequence));
    }

    private int[] Targets(TrainingSequence sequence)
    {
        var targets = _targets;
        for (var i = 0; i < _tokens; i++) targets[i] = sequence.Counts(i) ? sequence.Tokens[i + 1] : CrossEntropyOp.IgnoreIndex;
        return targets;
    }

    /// <summary>The main model's forward: fills x (final residual), hn, rstd_n and logits; returns the blocks' balance loss.</summary>
    private T Forward(int[] tokens, bool countLoad)
    {
        EmbedTokens(tokens);
        var balance = ForwardLayers(countLoad);
        HeadForward();
        return balance;
    }

    /// <summary>From dhn (in its buffer) back to the embedding, through the final norm and every block.</summary>
    private void Backward(int[] tokens, ModelParameters<T> g, T balanceScale)
    {
        NormBackward(g);
        BackwardLayers(g, balanceScale);
        EmbedBackward(tokens, g);
    }

    /// <summary>Unmasked sequences: the loss is the mean over all B×(T−1) positions.</summary>
    public BatchLoss<T> ForwardBackward(IReadOnlyList<int[]> batch, ModelParameters<T> grads, T mtpWeight) =>
        ForwardBackward(batch.Select(t => new TrainingSequence(t)).ToList(), grads, mtpWeight);

    /// <summary>One sequence: returns its (unscaled) main, MTP and balance losses; gradients are scaled by the given weights.</summary>
    private (T Main, T Mtp, T Balance) Sequence(TrainingSequence sequence, ModelParameters<T> g, T mainScale, T mtpScale, T balanceScale)
    {
        var balance = Forward(sequence.Tokens, countLoad: true);
        var (mainLoss, mtpLoss, mtpBalance) = LossBackward(sequence, g, mainScale, mtpScale, balanceScale);
        Backward(sequence.Tokens, g, balanceScale);
        return (mainLoss, mtpLoss, balance + mtpBalance);
    }

    /// <summary>
    /// After <see cref="HeadForward"/>: the main cross-entropy and (when <paramref name="mtpScale"/> ≠ 0) MTP, forward and
    /// backward, leaving ∂L/∂hn in dhn. Returns the unscaled main and MTP losses and the MTP block's balance loss.
    /// </summary>
    private (T Main, T Mtp, T MtpBalance) LossBackward(TrainingSequence sequence, ModelParameters<T> g, T mainScale, T mtpScale, T balanceScale)
    {
        var c = _p.Config;
        int t = _tokens, h = c.HiddenSize, vocab = c.VocabSize;
        var dHead = g.Head ?? g.Embed;
        var dLogits = _acts[_dLogits];
        var mainLoss = CrossEntropyOp.ForwardBackward<T>(_acts[_logits], Targets(sequence), dLogits, vocab, T.One);
        for (var i = 0; i < dLogits.Length; i++) dLogits[i] *= mainScale;

        var dhn = _acts[_dhn];
        dhn.Clear();
        LinearOp.Backward<T>(dLogits, _acts[_hn], _p.Head ?? _p.Embed, dhn, dHead, [], t, h, vocab);
        var (mtpLoss, mtpBalance) = mtpScale == T.Zero ? (T.Zero, T.Zero) : MtpForwardBackward(sequence, g, mtpScale, balanceScale);
        return (mainLoss, mtpLoss, mtpBalance);
    }

    /// <summary>
    /// MTP over positions 0 … T−2: input t_{i+1} and hn_i, target t_{i+2} (the last position has none). Returns the MTP
    /// cross-entropy and the MTP block's balance loss (whose gradient is scaled by <paramref name="balanceScale"/>); adds
    /// its gradient w.r.t. hn into dhn. Reuses the main head's logits buffers, free by then.
    /// </summary>
    private (T Loss, T Balance) MtpForwardBackward(TrainingSequence sequence, ModelParameters<T> g, T scale, T balanceScale)
    {
        var tokens = sequence.Tokens;
        var c = _p.Config;
        int n = _tokens - 1, h = c.HiddenSize, vocab = c.VocabSize;
        var eps = T.CreateChecked(c.RmsNormEps);
        var m = _p.Mtp[0];
        var gm = g.Mtp[0];
        var embed = m.Embed ?? _p.Embed;
        var head = m.Head ?? _p.Head ?? _p.Embed;
        var a = _acts;
        Span<T> hn = a[_hn][..(n * h)], dhn = a[_dhn][..(n * h)];
        Span<T> e = a[_e], cat = a[_cat], en = a[_en], hh = a[_hh], x = a[_xm], xOut = a[_xOut], hm = a[_hm];
        Span<T> logits = a[_logits][..(n * vocab)], dLogits = a[_dLogits][..(n * vocab)];

        var next = tokens.AsSpan(1);
        EmbeddingOp.Forward<T>(next, embed, e, h);
        RmsNormOp.Forward<T>(e, m.ENorm, eps, en, a[_rstdE], n, h);
        RmsNormOp.Forward<T>(hn, m.HNorm, eps, hh, a[_rstdH], n, h);
        for (var i = 0; i < n; i++)
        {
            en.Slice(i * h, h).CopyTo(cat.Slice(i * 2 * h, h));
            hh.Slice(i * h, h).CopyTo(cat.Slice(i * 2 * h + h, h));
        }
        Projection.Forward(_lora, cat, m.EhProj, [], x, n, 2 * h, h);
        _mtpBlock!.Forward(m.Block, x, _p.RouterBias[m.Layer]);
        Accumulate(m.Layer, _mtpBlock);
        var balance = _mtpBlock.BalanceLoss;
        x.CopyTo(xOut);
        RmsNormOp.Forward<T>(x, m.HeadNorm, eps, hm, a[_rstdM], n, h);
        LinearOp.Forward<T>(hm, head, [], logits, n, h, vocab);
        var targets = _mtpTargets;
        for (var i = 0; i < n; i++) targets[i] = i + 2 < _tokens && sequence.Counts(i + 1) ? tokens[i + 2] : CrossEntropyOp.IgnoreIndex;
        var loss = CrossEntropyOp.ForwardBackward<T>(logits, targets, dLogits, vocab, T.One);
        for (var i = 0; i < dLogits.Length; i++) dLogits[i] *= scale;

        Span<T> dhm = a[_dhm], dx = a[_dxm], dcat = a[_dcat], den = a[_den], dhh = a[_dhh], de = a[_de];
        dhm.Clear();
        LinearOp.Backward<T>(dLogits, hm, head, dhm, gm.Head ?? g.Head ?? g.Embed, [], n, h, vocab);
        dx.Clear();
        RmsNormOp.Backward<T>(dhm, xOut, m.HeadNorm, a[_rstdM], dx, gm.HeadNorm, n, h);
        _mtpBlock.Backward(m.Block, dx, gm.Block, balanceScale);
        dcat.Clear();
        Projection.Backward(_lora, dx, cat, m.EhProj, dcat, gm.EhProj, [], n, 2 * h, h);
        for (var i = 0; i < n; i++)
        {
            dcat.Slice(i * 2 * h, h).CopyTo(den.Slice(i * h, h));
            dcat.Slice(i * 2 * h + h, h).CopyTo(dhh.Slice(i * h, h));
        }
        de.Clear();
        RmsNormOp.Backward<T>(den, e, m.ENorm, a[_rstdE], de, gm.ENorm, n, h);
        EmbeddingOp.Backward<T>(next, de, gm.Embed ?? g.Embed, h);
        RmsNormOp.Backward<T>(dhh, hn, m.HNorm, a[_rstdH], dhn, gm.HNorm, n, h);
        return (loss, balance);
    }

    private void Accumulate(int layer, BlockTrainer<T> block)
    {
        if (block.Load is not { } load || ExpertLoad[layer] is not { } total) return;
        for (var e = 0; e < load.Length; e++) total[e] += load[e];
    }
}
