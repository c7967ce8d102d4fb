namespace DeepSeek.Benchmarks.Kernels;

/// <summary>What one invocation of a benchmark method moves and computes, for the roofline columns.</summary>
/// <param name="Bytes">Bytes the kernel must read or write from memory (weights streamed, caches read, activations).</param>
/// <param name="Flops">Floating-point operations (a multiply-add counts 2).</param>
public readonly record struct KernelCost(double Bytes, double Flops);

/// <summary>A benchmark class that can say what each invocation costs under its current parameters.</summary>
public interface IKernelCost
{
    /// <summary>Cost of one call of <paramref name="method"/>.</summary>
    KernelCost CostOf(string method);
}
