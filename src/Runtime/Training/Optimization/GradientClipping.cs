namespace DeepSeek.Runtime.Training.Optimization;

/// <summary>Global-norm clipping over all parameter gradients (<c>torch.nn.utils.clip_grad_norm_</c>).</summary>
public static class GradientClipping
{
    /// <summary>
    /// Scales every gradient by min(1, max/(‖g‖₂ + 1e-6)) where ‖g‖₂ spans all of them; returns the norm before
    /// clipping. <paramref name="maxNorm"/> ≤ 0 turns clipping off (the norm is still returned, for logging).
    /// </summary>
    public static double ClipGlobalNorm(IReadOnlyList<float[]> gradients, double maxNorm)
    {
        ArgumentNullException.ThrowIfNull(gradients);
        double sumSquares = 0;
        foreach (var g in gradients)
            foreach (var v in g) sumSquares += (double)v * v;
        var norm = Math.Sqrt(sumSquares);
        if (maxNorm > 0 && norm > maxNorm)
        {
            var scale = (float)(maxNorm / (norm + 1e-6));
            foreach (var g in gradients) System.Numerics.Tensors.TensorPrimitives.Multiply(g, scale, g);
        }
        return norm;
    }
}
