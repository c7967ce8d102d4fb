namespace DeepSeek.Runtime.Distributed.Pipeline;

/// <summary>
/// The reference every schedule is held to: the same micro-batches run one after another through all stages in one thread —
/// forward, loss, backward — each micro-batch's gradient into its own zeroed buffer, the step's gradient their sum in
/// micro-batch order (the order <see cref="PipelineExecutor"/> sums in, so the two agree to the bit).
/// </summary>
public static class SequentialPipeline
{
    /// <summary>Runs one step; the result's <see cref="PipelineStepResult.Gradients"/> is indexed by stage (not direction).</summary>
    /// <param name="stages">Stages 0 … S − 1 of the model; stage s's output feeds stage s + 1.</param>
    /// <param name="inputs">The input of every micro-batch.</param>
    /// <param name="loss">The loss on the last stage's output.</param>
    public static PipelineStepResult Run(IReadOnlyList<IPipelineStage> stages, IReadOnlyList<double[]> inputs, IPipelineLoss loss)
    {
        ArgumentNullException.ThrowIfNull(stages);
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(loss);
        if (stages.Count == 0) throw new ArgumentException("a model needs at least one stage", nameof(stages));
        var losses = new double[inputs.Count];
        var gradients = stages.Select(s => new double[s.ParameterCount]).ToArray();
        for (var m = 0; m < inputs.Count; m++)
        {
            var x = inputs[m];
            foreach (var stage in stages)
            {
                var y = new double[stage.OutputSize];
                stage.Forward(m, x, y);
                x = y;
            }
            var dy = new double[x.Length];
            losses[m] = loss.Loss(m, x, dy);
            for (var s = stages.Count - 1; s >= 0; s--)
            {
                var dx = new double[stages[s].InputSize];
                stages[s].BackwardInput(m, dy, dx);
                var g = new double[stages[s].ParameterCount];
                stages[s].BackwardWeight(m, g);
                for (var i = 0; i < g.Length; i++) gradients[s][i] += g[i];
                dy = dx;
            }
        }
        var total = 0.0;
        foreach (var l in losses) total += l;
        return new PipelineStepResult(total, losses, gradients);
    }
}
