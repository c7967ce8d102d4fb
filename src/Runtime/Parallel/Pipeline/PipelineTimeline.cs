namespace DeepSeek.Runtime.Distributed.Pipeline;

/// <summary>One computing instruction placed on a rank's time axis.</summary>
/// <param name="Op">The instruction.</param>
/// <param name="Start">When it started (after its inputs arrived and the rank was free).</param>
/// <param name="End">When it finished; its outputs leave then.</param>
public readonly record struct TimedPipelineOp(PipelineOp Op, double Start, double End);

/// <summary>One rank's simulated step.</summary>
/// <param name="Rank">The rank.</param>
/// <param name="Ops">Its computing instructions with their times, in program order.</param>
/// <param name="Busy">Total time spent computing.</param>
/// <param name="Idle">Makespan − busy: waiting for neighbours, plus waiting for the slowest rank at the end.</param>
public sealed record RankTimeline(int Rank, IReadOnlyList<TimedPipelineOp> Ops, double Busy, double Idle);

/// <summary>The simulated step of a whole pipeline (<see cref="PipelineSimulator.Simulate"/>).</summary>
/// <param name="Schedule">What was simulated.</param>
/// <param name="Costs">With which costs.</param>
/// <param name="Ranks">Each rank's timeline.</param>
/// <param name="Makespan">When the last rank finished: the step time.</param>
public sealed record PipelineTimeline(PipelineSchedule Schedule, PipelineCosts Costs, IReadOnlyList<RankTimeline> Ranks, double Makespan)
{
    /// <summary>The pipeline bubble: the largest idle time of any rank (every rank of 1F1B idles equally; DualPipe's middle ranks idle most).</summary>
    public double Bubble => Ranks.Max(r => r.Idle);

    /// <summary>The published formula's bubble for this schedule and these costs (<see cref="PipelineBubble.Formula"/>).</summary>
    public double FormulaBubble => PipelineBubble.Formula(Schedule.Kind, Schedule.Ranks, Costs);
}
