using DeepSeek.Runtime.Distributed.Pipeline;

namespace DeepSeek.Benchmarks.Parallel;

/// <summary>
/// Simulated compute: a stage that passes its one value through and sleeps F, B − W and W time units in forward,
/// input-backward and weight-backward. Sleeping (not spinning) keeps eight ranks honest on a two-core machine.
/// </summary>
internal sealed class SleepStage(TimeSpan forward, TimeSpan backwardInput, TimeSpan weight) : IPipelineStage
{
    public int InputSize => 1;

    public int OutputSize => 1;

    public int ParameterCount => 1;

    public void Forward(int microBatch, ReadOnlySpan<double> input, Span<double> output)
    {
        Thread.Sleep(forward);
        output[0] = input[0];
    }

    public void BackwardInput(int microBatch, ReadOnlySpan<double> outputGradient, Span<double> inputGradient)
    {
        Thread.Sleep(backwardInput);
        inputGradient[0] = outputGradient[0];
    }

    public void BackwardWeight(int microBatch, Span<double> parameterGradient)
    {
        Thread.Sleep(weight);
        parameterGradient[0] += 1;
    }
}

/// <summary>Loss = output, so every gradient is 1.</summary>
internal sealed class IdentityLoss : IPipelineLoss
{
    public double Loss(int microBatch, ReadOnlySpan<double> output, Span<double> outputGradient)
    {
        outputGradient[0] = 1;
        return output[0];
    }
}
