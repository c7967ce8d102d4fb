namespace DeepSeek.Runtime.Tensors;

/// <summary>
/// Names one buffer of an <see cref="ArenaPlan"/>: the plan it came from and its position in that plan.
/// Valid for every <see cref="Arena"/> built from that plan and for no other.
/// </summary>
/// <param name="PlanId">Process-unique id of the plan that issued this buffer.</param>
/// <param name="Index">Position of the buffer in <see cref="ArenaPlan.Buffers"/>.</param>
public readonly record struct BufferId(long PlanId, int Index);
