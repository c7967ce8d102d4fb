using DeepSeek.Runtime.Distributed.Pipeline;

namespace DeepSeek.Runtime.Tests.Distributed.Pipeline;

/// <summary>A model of <c>stages</c> <see cref="TanhMlpStage"/>s with seeded data, and the sequential reference step.</summary>
internal sealed class PipelineModel
{
    public const int Rows = 3;

    public PipelineModel(int stages, int microBatches, int seed = 7)
    {
        Stages = stages;
        var random = new Random(seed);
        Inputs = Enumerable.Range(0, microBatches).Select(_ => Enumerable.Range(0, Rows * Boundary(0)).Select(_ => random.NextDouble() * 2 - 1).ToArray()).ToArray();
        Targets = Enumerable.Range(0, microBatches).Select(_ => Enumerable.Range(0, Rows * Boundary(stages)).Select(_ => random.NextDouble() - 0.5).ToArray()).ToArray();
        Loss = new SquaredErrorLoss(Targets);
    }

    public int Stages { get; }

    public double[][] Inputs { get; }

    public double[][] Targets { get; }

    public IPipelineLoss Loss { get; }

    // Stage s maps Boundary(s) → Boundary(s + 1) features through one hidden width; boundaries differ so a mis-routed message shows.
    public static int Boundary(int s) => 3 + s % 4;

    public IPipelineStage Stage(int s, Func<int, int, bool>? fail = null)
    {
        var stage = new TanhMlpStage(Rows, [Boundary(s), 5 + s % 3, Boundary(s + 1)], seed: 1000 + s);
        return fail is null ? stage : new FailingStage(stage, fail);
    }

    public PipelineStepResult Sequential() => SequentialPipeline.Run(Enumerable.Range(0, Stages).Select(s => Stage(s)).ToArray(), Inputs, Loss);

    /// <summary>Each micro-batch's gradient of each stage on its own: [stage][micro-batch][parameter].</summary>
    public double[][][] PerMicroBatchGradients()
    {
        var stages = Enumerable.Range(0, Stages).Select(s => Stage(s)).ToArray();
        var result = stages.Select(_ => new double[Inputs.Length][]).ToArray();
        for (var m = 0; m < Inputs.Length; m++)
        {
            var x = Inputs[m];
            foreach (var stage in stages) { var y = new double[stage.OutputSize]; stage.Forward(m, x, y); x = y; }
            var dy = new double[x.Length];
            Loss.Loss(m, x, dy);
            for (var s = Stages - 1; s >= 0; s--)
            {
                var dx = new double[stages[s].InputSize];
                stages[s].BackwardInput(m, dy, dx);
                result[s][m] = new double[stages[s].ParameterCount];
                stages[s].BackwardWeight(m, result[s][m]);
                dy = dx;
            }
        }
        return result;
    }
}

/// <summary>Throws where <c>fail(micro-batch, call)</c> says so (call 0: forward, 1: backward), otherwise the inner stage.</summary>
internal sealed class FailingStage(IPipelineStage inner, Func<int, int, bool> fail) : IPipelineStage
{
    public int InputSize => inner.InputSize;

    public int OutputSize => inner.OutputSize;

    public int ParameterCount => inner.ParameterCount;

    public void Forward(int microBatch, ReadOnlySpan<double> input, Span<double> output)
    {
        if (fail(microBatch, 0)) throw new InvalidOperationException($"stage failure injected at forward of micro-batch {microBatch}");
        inner.Forward(microBatch, input, output);
    }

    public void BackwardInput(int microBatch, ReadOnlySpan<double> outputGradient, Span<double> inputGradient)
    {
        if (fail(microBatch, 1)) throw new InvalidOperationException($"stage failure injected at backward of micro-batch {microBatch}");
        inner.BackwardInput(microBatch, outputGradient, inputGradient);
    }

    public void BackwardWeight(int microBatch, Span<double> parameterGradient) => inner.BackwardWeight(microBatch, parameterGradient);
}
