namespace DeepSeek.Runtime.Distributed;

/// <summary>The element-wise reduction a collective applies across ranks.</summary>
public enum ReduceOp
{
    /// <summary>Sum of the ranks' values.</summary>
    Sum = 0,

    /// <summary>Largest of the ranks' values.</summary>
    Max = 1,

    /// <summary>Smallest of the ranks' values.</summary>
    Min = 2,
}
