namespace DeepSeek.Runtime.Generation;

public sealed partial class Generator
{
    /// <summary>Per-sequence sampling, stop and speculation state.</summary>
    internal sealed class SequenceState
    {
        private readonly Sampler _sampler;
        private readonly TokenHistory _history;
        private readonly StopCondition _stop;
        private readonly StopSequenceMatcher? _matcher;
        private readonly ITokenTextDecoder? _decoder;
        private readonly int _context, _sampleable;
        private readonly bool _auto;
        // Sampling (not greedy) with drafts: q, the distribution the draft came from, and p, the main model's at its position (vocab each).
        private readonly float[]? _draftDistribution, _targetDistribution;
        private int _drafted, _accepted;

        public SequenceState(IReadOnlyList<int> prompt, SamplingOptions options, int vocab, int context, int sampleable, int[] eos, ITokenTextDecoder? decoder,
            bool speculate, bool auto)
        {
            Prompt = prompt;
            _context = context;
            _sampleable = sampleable;
            _decoder = decoder;
            _sampler = new Sampler(options, vocab);
            _history = new TokenHistory(vocab, context);
            _history.AddPrompt(prompt.ToArray());
            _stop = new StopCondition(options, eos);
            _matcher = decoder is null ? null : new StopSequenceMatcher(options.StopSequences);
            Speculating = speculate;
            _auto = auto;
            if (speculate && !options.IsGreedy)
            {
                _draftDistribution = new float[vocab];
                _targetDistribution = new float[vocab];
            }
        }

        public IReadOnlyList<int> Prompt { get; }

        public bool Finished { get; private set; }

        /// <summary>Tokens in the sequence so far.</summary>
        public int Length => _history.Count;

        /// <summary>True while this sequence drafts with the MTP module; once false it stays false (its MTP cache is no longer kept).</summary>
        public bool Speculating { get; private set; }

        /// <summary>The pending draft for the token after the next one fed, or −1.</summary>
        public int Draft { get; private set; } = -1;

        public SpeculationStats Stats => new(_drafted, _accepted);

        /// <summary>
        /// Tokens that may still be emitted before <see cref="SamplingOptions.MaxTokens"/> or the context ends the sequence.
        /// A draft only pays when two remain: the verified token and the one after the draft.
        /// </summary>
        private int Remaining => Math.Min(_stop.MaxTokens is { } max ? max - _history.GeneratedCount : int.MaxValue, _context - _history.Count);

        /// <summary>
        /// Decides, after this step's tokens, whether the sequence drafts again; true when it does (the caller then runs the
        /// MTP module over the step's new positions and calls <see cref="DraftFrom"/>).
        /// </summary>
        public bool ContinueSpeculating()
        {
            if (Speculating && (Finished || Remaining < 2 || (_auto && _drafted >= AutoProbeDrafts && _accepted < AutoMinAcceptance * _drafted)))
                Speculating = false;
            if (!Speculating) Draft = -1;
            return Speculating;
        }

        /// <summary>Samples and emits the next token from one row of main-model logits.</summary>
        public GeneratedToken Pick(Span<float> logits, int sequence)
        {
            logits[_sampleable..].Fill(float.NegativeInfinity);
            return Emit(_sampler.Sample(logits, _history), sequence);
        }

        /// <summary>
        /// Draws the draft from one row of MTP logits, processed exactly as the main-model row that verifies it will be:
        /// penalties over the same history (everything up to the token fed next), temperature and filters.
        /// </summary>
        public void DraftFrom(Span<float> mtpLogits)
        {
            mtpLogits[_sampleable..].Fill(float.NegativeInfinity);
            if (_draftDistribution is null)
            {
                Draft = _sampler.Sample(mtpLogits, _history);
                return;
            }
            _sampler.Distribution(mtpLogits, _history, _draftDistribution);
            Draft = _sampler.SampleFrom(_draftDistribution);
        }

        /// <summary>
        /// Verifies <see cref="Draft"/> against the main model's row at the same position and emits the token to keep:
        /// greedy keeps the draft iff it is the argmax (so the token is exactly plain greedy's); sampling keeps it with
        /// probability min(1, p/q) and otherwise draws from normalize(max(0, p − q)).
        /// </summary>
        public GeneratedToken Verify(Span<float> logits, int sequence, out bool accepted)
        {
            var draft = Draft;
            logits[_sampleable..].Fill(float.NegativeInfinity);
            int id;
            if (_draftDistribution is null)
            {
                id = _sampler.Sample(logits, _history);
                accepted = id == draft;
            }
            else
            {
                _sampler.Distribution(logits, _history, _targetDistribution!);
                id = _sampler.Verify(_targetDistribution, _draftDistribution, draft, out accepted);
            }
            _drafted++;
            if (accepted) _accepted++;
            Draft = -1;
            return Emit(id, sequence);
        }

        private GeneratedToken Emit(int id, int sequence)
        {
            _history.AddGenerated(id);
            var finish = _stop.Check(id, _history.GeneratedCount);
            if (finish is null && _history.Count >= _context) finish = FinishReason.Length;

            var text = "";
            if (_decoder is not null && _matcher is not null)
            {
                if (!_stop.IsStopToken(id))
                {
                    var r = _matcher.Append(_decoder.Append(id));
                    text = r.Text;
                    if (r.Stopped) finish = FinishReason.Stop;
                }
                if (finish is not null && !_matcher.IsStopped)
                {
                    var tail = _matcher.Append(_decoder.Flush());
                    text += tail.Text + (tail.Stopped ? "" : _matcher.Flush());
                    if (tail.Stopped) finish = FinishReason.Stop;
                }
            }
            Finished = finish is not null;
            return new GeneratedToken(sequence, id, text, finish) { Speculation = Stats };
        }
    }
}
