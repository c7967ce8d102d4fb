namespace DeepSeek.Runtime.Distributed.Pipeline;

/// <summary>
/// The one-forward-one-backward schedule (PipeDream-Flush / Megatron-LM): rank r runs min(PP − 1 − r, C) warm-up forwards,
/// then alternates one forward and one full backward, then drains the remaining backwards. Its bubble is (PP − 1)(F + B).
/// </summary>
public static class OneFOneBSchedule
{
    /// <summary>Builds the schedule for <paramref name="ranks"/> ranks and <paramref name="microBatches"/> micro-batches.</summary>
    /// <exception cref="PipelineScheduleException">Fewer than one rank or micro-batch.</exception>
    public static PipelineSchedule Build(int ranks, int microBatches)
    {
        PipelineSchedule.CheckShape(PipelineScheduleKind.OneFOneB, ranks, microBatches);
        int[][] feed = [Enumerable.Range(0, microBatches).ToArray(), []];
        var programs = new IReadOnlyList<PipelineOp>[ranks];
        for (var rank = 0; rank < ranks; rank++)
        {
            var p = new RankProgram(ranks, rank, feed);
            var warmUp = Math.Min(ranks - 1 - rank, microBatches);

            // 1. Warm-up: fill the pipeline below this rank.
            for (var i = 0; i < warmUp; i++) p.Forward(0);

            // 2. Steady state: each new forward is paired with the backward of the oldest micro-batch in flight.
            for (var i = 0; i < microBatches - warmUp; i++)
            {
                p.Forward(0);
                p.Backward(0);
            }

            // 3. Cool-down: the backwards of the micro-batches still in flight.
            for (var i = 0; i < warmUp; i++) p.Backward(0);
            programs[rank] = p.Ops;
        }
        return new PipelineSchedule(PipelineScheduleKind.OneFOneB, ranks, microBatches, programs);
    }
}
