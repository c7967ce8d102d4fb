namespace DeepSeek.Runtime.Generation;

/// <summary>A snapshot of a <see cref="BatchScheduler"/>: its slots, its KV cache memory and the work done so far.</summary>
/// <param name="Slots">Sequences the scheduler decodes together at most (the KV cache's sequence slots).</param>
/// <param name="ActiveSequences">Slots holding a request now.</param>
/// <param name="QueuedRequests">Requests waiting for a free slot.</param>
/// <param name="SlotTokens">Tokens (prompt + generated) one slot holds: the generator's context length.</param>
/// <param name="BytesPerToken">KV cache bytes one token takes over all layers (<see cref="KvCache.BytesPerToken"/>).</param>
/// <param name="TokensInUse">Tokens cached now over all slots.</param>
/// <param name="PeakTokensInUse">The most tokens cached at once so far (measured after each step, before finished requests leave).</param>
/// <param name="Steps">Forward passes run so far (each decodes every active sequence and prefills those that joined).</param>
/// <param name="GeneratedTokens">Tokens emitted so far over all requests.</param>
public readonly record struct BatchSchedulerStats(int Slots, int ActiveSequences, int QueuedRequests, int SlotTokens, long BytesPerToken, long TokensInUse,
    long PeakTokensInUse, long Steps, long GeneratedTokens)
{
    /// <summary>Bytes of KV cache allocated: every slot at full length (allocated once, when the scheduler is created).</summary>
    public long CapacityBytes => Slots * SlotTokens * BytesPerToken;

    /// <summary>Bytes of KV cache holding tokens now.</summary>
    public long BytesInUse => TokensInUse * BytesPerToken;

    /// <summary>The most bytes of KV cache that held tokens at once so far.</summary>
    public long PeakBytesInUse => PeakTokensInUse * BytesPerToken;

    /// <summary>Tokens per forward pass so far: how much batching saved (1 = none; weights are read once per step).</summary>
    public double TokensPerStep => Steps == 0 ? 0 : (double)GeneratedTokens / Steps;
}
