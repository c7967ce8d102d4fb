namespace DeepSeek.Runtime.Distributed.Pipeline;

/// <summary>The pipeline-parallel schedules this runtime knows.</summary>
public enum PipelineScheduleKind
{
    /// <summary>One-forward-one-backward: warm-up, steady state, cool-down; one direction, one stage per rank.</summary>
    OneFOneB,

    /// <summary>DeepSeek-V3's bidirectional schedule: micro-batches fed from both ends, two stages per rank (DeepSeek-V3 §3.2.1).</summary>
    DualPipe,
}

/// <summary>
/// A pipeline schedule as data: for each rank, the ordered instructions it runs for one training step of
/// <see cref="MicroBatches"/> micro-batches. The model is cut into <see cref="Ranks"/> stages; direction 0 runs stage s on rank s.
/// DualPipe also runs direction 1, which feeds micro-batches in at the last rank: stage s of direction 1 lives on rank
/// <c>Ranks − 1 − s</c>, so every rank holds two stages (s and Ranks − 1 − s) and each stage exists twice.
/// </summary>
public sealed class PipelineSchedule
{
    private readonly PipelineOp[][] _ops;

    /// <summary>
    /// Wraps per-rank instruction lists and checks them (<see cref="PipelineScheduleValidator"/>): every micro-batch goes forward,
    /// then backward, exactly once on every stage, every receive has its send, and no rank waits forever.
    /// </summary>
    /// <exception cref="PipelineScheduleException">Rank or micro-batch counts are out of range for <paramref name="kind"/>.</exception>
    /// <exception cref="InvalidPipelineScheduleException">The instruction lists break a rule; the message names rank and instruction.</exception>
    public PipelineSchedule(PipelineScheduleKind kind, int ranks, int microBatches, IReadOnlyList<IReadOnlyList<PipelineOp>> ops)
    {
        ArgumentNullException.ThrowIfNull(ops);
        CheckShape(kind, ranks, microBatches);
        if (ops.Count != ranks)
            throw new InvalidPipelineScheduleException($"a schedule for {ranks} ranks needs {ranks} instruction lists, got {ops.Count}");
        Kind = kind;
        Ranks = ranks;
        MicroBatches = microBatches;
        _ops = ops.Select(list => list.ToArray()).ToArray();
        PipelineScheduleValidator.Validate(this);
    }

    /// <summary>Builds the named schedule for <paramref name="ranks"/> pipeline ranks and <paramref name="microBatches"/> micro-batches.</summary>
    /// <exception cref="PipelineScheduleException">The counts do not suit the schedule (see <see cref="CheckShape"/>).</exception>
    public static PipelineSchedule Create(PipelineScheduleKind kind, int ranks, int microBatches) => kind switch
    {
        PipelineScheduleKind.OneFOneB => OneFOneBSchedule.Build(ranks, microBatches),
        PipelineScheduleKind.DualPipe => DualPipeSchedule.Build(ranks, microBatches),
        _ => throw new PipelineScheduleException($"unknown pipeline schedule '{kind}'"),
    };

    /// <summary>Which schedule this is.</summary>
    public PipelineScheduleKind Kind { get; }

    /// <summary>Pipeline ranks (and model stages).</summary>
    public int Ranks { get; }

    /// <summary>Micro-batches in one step, over both directions for DualPipe.</summary>
    public int MicroBatches { get; }

    /// <summary>1 for 1F1B, 2 for DualPipe.</summary>
    public int Directions => Kind == PipelineScheduleKind.DualPipe ? 2 : 1;

    /// <summary>The instructions rank <paramref name="rank"/> runs, in order.</summary>
    public IReadOnlyList<PipelineOp> OpsOf(int rank)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rank);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(rank, Ranks);
        return _ops[rank];
    }

    /// <summary>The model stage rank <paramref name="rank"/> runs for <paramref name="direction"/>: s for direction 0, Ranks − 1 − s for direction 1.</summary>
    public int StageOf(int rank, int direction) => direction == 0 ? rank : Ranks - 1 - rank;

    /// <summary>The rank that runs <paramref name="stage"/> for <paramref name="direction"/> (the same mirror as <see cref="StageOf"/>).</summary>
    public int RankOf(int stage, int direction) => direction == 0 ? stage : Ranks - 1 - stage;

    /// <summary>The direction a micro-batch travels: DualPipe feeds the first half of the micro-batches in at rank 0, the second half at the last rank.</summary>
    public int DirectionOf(int microBatch) => Kind == PipelineScheduleKind.DualPipe && microBatch >= MicroBatches / 2 ? 1 : 0;

    /// <summary>The micro-batches of <paramref name="direction"/>, in the order they are fed in.</summary>
    public IEnumerable<int> MicroBatchesOf(int direction) =>
        Enumerable.Range(0, MicroBatches).Where(m => DirectionOf(m) == direction);

    /// <summary>
    /// Rejects counts a schedule cannot run: at least one rank and one micro-batch; DualPipe needs an even number of ranks
    /// (rank r pairs stage r with stage Ranks − 1 − r) and an even number of micro-batches, at least 2 × ranks
    /// (each direction needs one micro-batch in flight per rank before its first backward arrives).
    /// </summary>
    /// <exception cref="PipelineScheduleException">With a message that says what is accepted.</exception>
    public static void CheckShape(PipelineScheduleKind kind, int ranks, int microBatches)
    {
        if (ranks < 1)
            throw new PipelineScheduleException($"pipeline ranks must be at least 1, got {ranks}");
        if (microBatches < 1)
            throw new PipelineScheduleException($"micro-batches (chunks) must be at least 1, got {microBatches}");
        if (kind != PipelineScheduleKind.DualPipe)
            return;
        if (ranks < 2 || ranks % 2 != 0)
            throw new PipelineScheduleException($"DualPipe needs an even number of pipeline ranks (each rank holds stages r and ranks-1-r), got {ranks}");
        if (microBatches % 2 != 0 || microBatches < 2 * ranks)
            throw new PipelineScheduleException(
                $"DualPipe needs an even number of micro-batches (chunks), at least 2 x ranks = {2 * ranks} (half are fed in from each end), got {microBatches}");
    }
}
