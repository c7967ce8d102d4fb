namespace DeepSeek.Runtime.Training.Optimization;

/// <summary>Plain SGD: p ← p − lr·g (no momentum, no decay), so one step is exactly W − lr·∇loss.</summary>
public static class Sgd
{
    /// <summary>One update.</summary>
    public static void Step(Span<float> parameters, ReadOnlySpan<float> gradients, double learningRate)
    {
        if (gradients.Length != parameters.Length) throw new ArgumentException($"SGD: {parameters.Length} parameters, {gradients.Length} gradients");
        System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(gradients, (float)-learningRate, parameters, parameters);
    }
}
