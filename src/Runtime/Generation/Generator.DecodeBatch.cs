namespace DeepSeek.Runtime.Generation;

public sealed partial class Generator
{
    /// <summary>
    /// The one step loop of generation, over a set of sequences that may change between steps (continuous batching).
    /// Each sequence sits in a slot of one <see cref="KvCache"/>. A step runs a single forward pass over the prompts of the
    /// sequences that joined since the last step (their prefill) and the next token — plus the pending MTP draft, when
    /// speculating — of every running sequence, samples each sequence with its own <see cref="SequenceState"/>, and then
    /// runs the MTP module over the step's new positions of the drafting sequences (see Generator.Speculative.cs).
    /// <see cref="Generate"/> is the case where every sequence joins before step 0; <see cref="BatchScheduler"/> joins and
    /// removes sequences between steps. Step buffers grow to the largest step seen and are kept, so a decode-only step
    /// allocates nothing. Not thread-safe: one loop owns it, like the cache.
    /// </summary>
    internal sealed class DecodeBatch
    {
        private readonly Generator _generator;
        private readonly KvCache _cache;
        private readonly SequenceState?[] _states;
        private readonly bool[] _joining;
        private readonly int[] _last, _start, _logitStart, _mtpLogitRows, _drafting;
        private readonly LogitsObserver? _observer;
        private readonly bool _observePrompt;
        private readonly float[] _mtpLogits;                 // (drafting sequences, vocab)
        private int[] _fed, _owners, _logitRows, _mtpRows, _mtpNext;
        private float[] _logits;                             // (logit rows, vocab)

        /// <summary>
        /// A loop over the slots of <paramref name="cache"/>. <paramref name="observer"/> sees each row of logits before
        /// sampling; with <paramref name="observePromptLogits"/> also every prompt position of a joining sequence.
        /// </summary>
        public DecodeBatch(Generator generator, KvCache cache, LogitsObserver? observer = null, bool observePromptLogits = false)
        {
            _generator = generator;
            _cache = cache;
            _observer = observer;
            _observePrompt = observePromptLogits;
            var n = cache.Sequences;
            var vocab = generator._model.VocabSize;
            _states = new SequenceState?[n];
            _joining = new bool[n];
            _last = new int[n];
            _start = new int[n];
            _logitStart = new int[n];
            _mtpLogitRows = new int[n];
            _drafting = new int[n];
            // A decode step feeds at most two tokens per sequence (the next one and a draft); prefills grow these.
            _fed = new int[2 * n];
            _owners = new int[2 * n];
            _logitRows = new int[2 * n];
            _mtpRows = new int[2 * n];
            _mtpNext = new int[2 * n];
            _logits = new float[2 * n * vocab];
            _mtpLogits = generator.UsesMtp ? new float[n * vocab] : [];
            Emitted = new GeneratedToken[2 * n];
        }

        /// <summary>The cache whose slots the sequences occupy.</summary>
        public KvCache Cache => _cache;

        /// <summary>Tokens of the last <see cref="Step"/>, in slot order (two for a sequence whose draft was accepted); the first <c>Step()</c> entries are valid.</summary>
        public GeneratedToken[] Emitted { get; }

        /// <summary>Forward passes run so far.</summary>
        public long Steps { get; private set; }

        /// <summary>True while some slot holds a sequence that has not finished.</summary>
        public bool HasWork
        {
            get
            {
                foreach (var state in _states)
                    if (state is { Finished: false }) return true;
                return false;
            }
        }

        /// <summary>True when <paramref name="slot"/> holds no sequence.</summary>
        public bool IsFree(int slot) => _states[slot] is null;

        /// <summary>Puts <paramref name="state"/> into the free <paramref name="slot"/>; its prompt runs in the next step.</summary>
        public void Join(int slot, SequenceState state)
        {
            if (_states[slot] is not null) throw new InvalidOperationException($"slot {slot} is in use");
            _cache.Reset(slot);
            _states[slot] = state;
            _joining[slot] = true;
        }

        /// <summary>Frees <paramref name="slot"/> (finished, cancelled or faulted); its cache rows are reused by the next sequence.</summary>
        public void Leave(int slot)
        {
            _states[slot] = null;
            _joining[slot] = false;
            _cache.Reset(slot);
        }

        /// <summary>Runs one step over every unfinished sequence; returns how many tokens it wrote to <see cref="Emitted"/>.</summary>
        public int Step()
        {
            var n = _states.Length;
            var vocab = _generator._model.VocabSize;
            int tokens = 0, rows = 0;
            for (var s = 0; s < n; s++)
            {
                if (_states[s] is not { Finished: false } state) continue;
                var prompt = state.Prompt.Count;
                tokens += _joining[s] ? prompt : 2;
                rows += _joining[s] ? (_observePrompt ? prompt : 1) : 2;
            }
            if (tokens == 0) return 0;
            Grow(ref _fed, tokens);
            Grow(ref _owners, tokens);
            Grow(ref _mtpRows, tokens);
            Grow(ref _mtpNext, tokens);
            Grow(ref _logitRows, rows);
            if (_logits.Length < rows * vocab) _logits = new float[rows * vocab];

            // Feed: a joining sequence's whole prompt (logits for its last position, or all when observed); a running
            // one's last token and its pending draft, with logits for both.
            int count = 0, r = 0;
            for (var s = 0; s < n; s++)
            {
                _start[s] = -1;
                if (_states[s] is not { Finished: false } state) continue;
                _start[s] = count;
                _logitStart[s] = r;
                if (_joining[s])
                {
                    var prompt = state.Prompt;
                    for (var p = 0; p < prompt.Count; p++)
                    {
                        if (_observePrompt || p == prompt.Count - 1) _logitRows[r++] = count;
                        _fed[count] = prompt[p];
                        _owners[count++] = s;
                    }
                    continue;
                }
                _logitRows[r++] = count;
                _fed[count] = _last[s];
                _owners[count++] = s;
                if (state.Draft < 0) continue;
                _logitRows[r++] = count;
                _fed[count] = state.Draft;
                _owners[count++] = s;
            }
            var main = _generator._model.Forward(_fed.AsSpan(0, count), _owners.AsSpan(0, count), _cache, _logitRows.AsSpan(0, r), _logits);
            Steps++;

            int e = 0, m = 0, d = 0;
            for (var s = 0; s < n; s++)
            {
                if (_start[s] < 0) continue;
                var state = _states[s]!;
                var t0 = _start[s];
                var l0 = _logitStart[s];
                if (_joining[s])
                {
                    _joining[s] = false;
                    var prompt = state.Prompt;
                    var last = _observePrompt ? l0 + prompt.Count - 1 : l0;
                    if (_observer is not null && _observePrompt)
                        for (var p = 0; p < prompt.Count; p++) _observer(s, p, Row(l0 + p, vocab));
                    else
                        _observer?.Invoke(s, prompt.Count - 1, Row(last, vocab));
                    var first = state.Pick(Row(last, vocab), s);
                    _last[s] = first.TokenId;
                    Emitted[e++] = first;
                    if (!state.ContinueSpeculating()) continue;
                    // MTP over every prompt position: position p pairs h_p with token p+1 (the first generated token for the
                    // last position), so the module's cache is complete before the first draft.
                    for (var p = 0; p < prompt.Count; p++)
                    {
                        _mtpRows[m] = t0 + p;
                        _mtpNext[m++] = p + 1 < prompt.Count ? prompt[p + 1] : first.TokenId;
                    }
                }
                else
                {
                    _observer?.Invoke(s, state.Length - 1, Row(l0, vocab));
                    var draft = state.Draft;
                    if (draft < 0)
                    {
                        var token = state.Pick(Row(l0, vocab), s);
                        _last[s] = token.TokenId;
                        Emitted[e++] = token;
                        continue;
                    }

                    var verified = state.Verify(Row(l0, vocab), s, out var accepted);
                    _last[s] = verified.TokenId;
                    Emitted[e++] = verified;
                    if (!accepted)
                    {
                        // The draft's cache row holds a token the sequence does not have: drop it (the next token overwrites it).
                        _cache.Truncate(s, _cache.Length(s) - 1);
                        if (!state.ContinueSpeculating()) continue;
                        _mtpRows[m] = t0;
                        _mtpNext[m++] = verified.TokenId;
                    }
                    else
                    {
                        if (state.Finished)
                        {
                            state.ContinueSpeculating();
                            continue;
                        }
                        // The draft's row predicts the token after it: the step's second token, for free.
                        _observer?.Invoke(s, state.Length - 1, Row(l0 + 1, vocab));
                        var bonus = state.Pick(Row(l0 + 1, vocab), s);
                        _last[s] = bonus.TokenId;
                        Emitted[e++] = bonus;
                        if (!state.ContinueSpeculating()) continue;
                        _mtpRows[m] = t0;
                        _mtpNext[m++] = draft;
                        _mtpRows[m] = t0 + 1;
                        _mtpNext[m++] = bonus.TokenId;
                    }
                }
                _mtpLogitRows[d] = m - 1;
                _drafting[d++] = s;
            }
            _generator.DraftWithMtp(main, _cache, _mtpRows.AsSpan(0, m), _mtpNext.AsSpan(0, m), _mtpLogitRows.AsSpan(0, d), _drafting.AsSpan(0, d), _states, _mtpLogits);
            return e;
        }

        private Span<float> Row(int row, int vocab) => _logits.AsSpan(row * vocab, vocab);

        private static void Grow(ref int[] buffer, int length)
        {
            if (buffer.Length < length) buffer = new int[length];
        }
    }
}
