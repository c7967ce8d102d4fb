namespace DeepSeek.Runtime.Distributed.Pipeline;

/// <summary>
/// DeepSeek-V3's DualPipe (§3.2.1; the phase structure of the public <c>deepseek-ai/DualPipe</c> reference): C micro-batches,
/// half fed in at rank 0 (direction 0) and half at the last rank (direction 1); rank r holds stage r of direction 0 and stage
/// PP − 1 − r of direction 1. In the steady state each rank overlaps the forward of one direction with the backward of the
/// other (F&amp;B), and the weight-gradient half of some backwards is deferred (zero-bubble) into the gaps of warm-up and drain.
/// Bubble (PP/2 − 1)(F&amp;B + B − 3W), against 1F1B's (PP − 1)(F + B).
/// </summary>
/// <remarks>
/// Each rank sees its two directions as <em>early</em> (where it is one of the first PP/2 stages: stage h = min(r, PP − 1 − r))
/// and <em>late</em> (stage PP − 1 − h). With H = PP/2 and n = C/2 micro-batches per direction, rank r runs:
/// <list type="number">
/// <item>2(H − h − 1) early forwards (warm-up of the early pipeline);</item>
/// <item>h + 1 rounds of early forward, late forward;</item>
/// <item>H − h − 1 rounds of late backward for inputs, one deferred weight step, late forward;</item>
/// <item>n − PP + h + 1 rounds of (early forward &amp; late backward), (late forward &amp; early backward) — the overlapped steady state;</item>
/// <item>H − h − 1 rounds of late backward, (late forward &amp; early backward);</item>
/// <item>h + 1 rounds of late backward, early backward, the weight half deferred from the middle of the phase on;</item>
/// <item>H − h − 1 rounds of one deferred weight step, early backward for inputs;</item>
/// <item>h + 1 deferred weight steps (drain).</item>
/// </list>
/// The two middle ranks (h = H − 1) hand micro-batches to each other across the pipeline's centre; they hold back one send in
/// phase 2 and do not pair the first forward and backward of phase 4, which keeps their neighbours from waiting.
/// </remarks>
public static class DualPipeSchedule
{
    /// <summary>Builds DualPipe for <paramref name="ranks"/> (even) ranks and <paramref name="microBatches"/> (even, ≥ 2 × ranks) micro-batches.</summary>
    /// <exception cref="PipelineScheduleException">Odd or too few ranks, or too few / an odd number of micro-batches.</exception>
    public static PipelineSchedule Build(int ranks, int microBatches)
    {
        PipelineSchedule.CheckShape(PipelineScheduleKind.DualPipe, ranks, microBatches);
        var perDirection = microBatches / 2;
        int[][] feed = [Enumerable.Range(0, perDirection).ToArray(), Enumerable.Range(perDirection, perDirection).ToArray()];
        var programs = new IReadOnlyList<PipelineOp>[ranks];
        for (var rank = 0; rank < ranks; rank++)
            programs[rank] = BuildRank(ranks, rank, perDirection, feed);
        return new PipelineSchedule(PipelineScheduleKind.DualPipe, ranks, microBatches, programs);
    }

    private static IReadOnlyList<PipelineOp> BuildRank(int ranks, int rank, int perDirection, int[][] feed)
    {
        var halfRanks = ranks / 2;
        var inSecondHalf = rank >= halfRanks;
        var h = Math.Min(rank, ranks - 1 - rank);
        var isMiddle = h == halfRanks - 1;
        // The early direction is the one where this rank is among the first half of the stages.
        var early = inSecondHalf ? 1 : 0;
        var late = 1 - early;
        var p = new RankProgram(ranks, rank, feed);

        // Phase 1: warm up the early pipeline.
        for (var i = 0; i < 2 * (halfRanks - h - 1); i++)
            p.Forward(early);

        // Phase 2: forwards of both directions, alternating. Middle ranks send at once but keep the last late output back
        // (it goes out in phase 4); the others send the early output after the late forward.
        for (var i = 0; i < h + 1; i++)
        {
            p.Forward(early, send: isMiddle);
            p.Forward(late, send: !isMiddle || i < h);
            if (!isMiddle) p.SendActivation(early);
        }

        // Phase 3: the first late backwards arrive; their weight half waits and fills the gap before the next late forward.
        for (var i = 0; i < halfRanks - h - 1; i++)
        {
            p.Backward(late, deferWeight: true);
            p.Weight();
            p.Forward(late);
        }

        // Phase 4: the steady state, every forward overlapped with a backward of the other direction.
        for (var i = 0; i < perDirection - ranks + h + 1; i++)
        {
            if (i == 0 && isMiddle)
            {
                // Not overlapped: the other middle rank is waiting for both results, so each goes out as soon as it exists.
                p.Forward(early, send: false);
                p.SendActivation(late);
                p.Backward(late, send: false);
                p.SendActivation(early);
                p.SendGradient(late);
            }
            else
            {
                p.ForwardBackward(early, late);
            }
            p.ForwardBackward(late, early);
        }

        // Phase 5: the early direction has no forwards left; late forwards still pair with early backwards.
        for (var i = 0; i < halfRanks - h - 1; i++)
        {
            p.Backward(late);
            p.ForwardBackward(late, early);
        }

        // Phase 6: backwards of both directions; from the middle of the phase on, weight gradients are deferred (zero-bubble).
        var deferWeight = false;
        for (var i = 0; i < h + 1; i++)
        {
            if (i == (h + 1) / 2 && h % 2 == 1) deferWeight = true;
            p.Backward(late, deferWeight);
            if (i == (h + 1) / 2 && h % 2 == 0) deferWeight = true;
            p.Backward(early, deferWeight);
        }

        // Phase 7: deferred weight steps interleaved with the last early backwards (inputs only).
        for (var i = 0; i < halfRanks - h - 1; i++)
        {
            p.Weight();
            p.Backward(early, deferWeight: true);
        }

        // Phase 8: drain the deferred weight steps.
        for (var i = 0; i < h + 1; i++)
            p.Weight();

        if (p.PendingWeights != 0)
            throw new InvalidPipelineScheduleException($"DualPipe rank {rank}: {p.PendingWeights} deferred weight steps left after phase 8");
        return p.Ops;
    }
}
