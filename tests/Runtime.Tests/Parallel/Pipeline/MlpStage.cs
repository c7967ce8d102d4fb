using DeepSeek.Runtime.Distributed.Pipeline;

namespace DeepSeek.Runtime.Tests.Distributed.Pipeline;

/// <summary>
/// A float64 test stage: tanh(x·Wᵀ + b) layers over <c>rows</c> rows per micro-batch, explicit forward and split backward
/// (llm.c style). Parameters come from a seed, so every rank that builds stage s gets the same numbers.
/// </summary>
internal sealed class MlpStage : IPipelineStage
{
    private readonly int _rows;
    private readonly int[] _widths;            // layer l maps _widths[l] → _widths[l + 1]
    private readonly double[] _parameters;     // per layer: W (out, in) then b (out)
    private readonly int[] _offsets;
    private readonly Dictionary<int, double[][]> _activations = [];   // micro-batch → per layer: input x_l (rows, in), last: output
    private readonly Dictionary<int, double[][]> _preGradients = [];  // micro-batch → per layer: dL/dz_l (rows, out)

    public MlpStage(int rows, int[] widths, int seed, Func<int, int, bool>? fail = null)
    {
        _rows = rows;
        _widths = widths;
        Fail = fail;
        _offsets = new int[widths.Length];
        var total = 0;
        for (var l = 0; l + 1 < widths.Length; l++)
        {
            _offsets[l] = total;
            total += widths[l + 1] * widths[l] + widths[l + 1];
        }
        _parameters = new double[total];
        var random = new Random(seed);
        for (var i = 0; i < total; i++) _parameters[i] = (random.NextDouble() * 2 - 1) * 0.7;
    }

    /// <summary>Test hook: (micro-batch, call) → throw; call 0 forward, 1 backward.</summary>
    public Func<int, int, bool>? Fail { get; }

    public int InputSize => _rows * _widths[0];

    public int OutputSize => _rows * _widths[^1];

    public int ParameterCount => _parameters.Length;

    private int Layers => _widths.Length - 1;

    public void Forward(int microBatch, ReadOnlySpan<double> input, Span<double> output)
    {
        if (Fail?.Invoke(microBatch, 0) == true) throw new InvalidOperationException($"stage failure injected at forward of micro-batch {microBatch}");
        var saved = new double[Layers + 1][];
        saved[0] = input.ToArray();
        for (var l = 0; l < Layers; l++)
        {
            int inW = _widths[l], outW = _widths[l + 1], o = _offsets[l];
            var x = saved[l];
            var y = new double[_rows * outW];   // (rows, out)
            for (var r = 0; r < _rows; r++)
                for (var j = 0; j < outW; j++)
                {
                    var z = _parameters[o + outW * inW + j];
                    for (var i = 0; i < inW; i++) z += x[r * inW + i] * _parameters[o + j * inW + i];
                    y[r * outW + j] = Math.Tanh(z);
                }
            saved[l + 1] = y;
        }
        saved[Layers].CopyTo(output);
        lock (_activations) _activations.Add(microBatch, saved);
    }

    public void BackwardInput(int microBatch, ReadOnlySpan<double> outputGradient, Span<double> inputGradient)
    {
        if (Fail?.Invoke(microBatch, 1) == true) throw new InvalidOperationException($"stage failure injected at backward of micro-batch {microBatch}");
        double[][] saved;
        lock (_activations) saved = _activations[microBatch];
        var pre = new double[Layers][];
        var dy = outputGradient.ToArray();
        for (var l = Layers - 1; l >= 0; l--)
        {
            int inW = _widths[l], outW = _widths[l + 1], o = _offsets[l];
            var y = saved[l + 1];
            var dz = new double[_rows * outW];
            for (var k = 0; k < dz.Length; k++) dz[k] = dy[k] * (1 - y[k] * y[k]);   // tanh' = 1 − tanh²
            var dx = new double[_rows * inW];
            for (var r = 0; r < _rows; r++)
                for (var i = 0; i < inW; i++)
                {
                    var s = 0.0;
                    for (var j = 0; j < outW; j++) s += dz[r * outW + j] * _parameters[o + j * inW + i];
                    dx[r * inW + i] = s;
                }
            pre[l] = dz;
            dy = dx;
        }
        dy.CopyTo(inputGradient);
        lock (_preGradients) _preGradients.Add(microBatch, pre);
    }

    public void BackwardWeight(int microBatch, Span<double> parameterGradient)
    {
        double[][] saved, pre;
        lock (_activations) { saved = _activations[microBatch]; _activations.Remove(microBatch); }
        lock (_preGradients) { pre = _preGradients[microBatch]; _preGradients.Remove(microBatch); }
        for (var l = 0; l < Layers; l++)
        {
            int inW = _widths[l], outW = _widths[l + 1], o = _offsets[l];
            var x = saved[l];
            var dz = pre[l];
            for (var r = 0; r < _rows; r++)
                for (var j = 0; j < outW; j++)
                {
                    var g = dz[r * outW + j];
                    for (var i = 0; i < inW; i++) parameterGradient[o + j * inW + i] += g * x[r * inW + i];
                    parameterGradient[o + outW * inW + j] += g;
                }
        }
    }
}

/// <summary>½·Σ(y − t)² / micro-batches per micro-batch, against seeded targets.</summary>
internal sealed class SquaredErrorLoss(IReadOnlyList<double[]> targets) : IPipelineLoss
{
    public double Loss(int microBatch, ReadOnlySpan<double> output, Span<double> outputGradient)
    {
        var t = targets[microBatch];
        var scale = 1.0 / targets.Count;
        var loss = 0.0;
        for (var i = 0; i < output.Length; i++)
        {
            var d = output[i] - t[i];
            loss += 0.5 * d * d;
            outputGradient[i] = d * scale;
        }
        return loss * scale;
    }
}

/// <summary>A model of <c>stages</c> MLP stages with its data, and the sequential reference step.</summary>
internal sealed class PipelineModel
{
    public const int Rows = 3;

    public PipelineModel(int stages, int microBatches, int seed = 7)
    {
        Stages = stages;
        // Stage s maps Boundary(s) → Boundary(s + 1), through one hidden width; boundaries differ so a mis-routed message shows.
        var random = new Random(seed);
        Inputs = Enumerable.Range(0, microBatches).Select(_ => Enumerable.Range(0, Rows * Boundary(0)).Select(_ => random.NextDouble() * 2 - 1).ToArray()).ToArray();
        Targets = Enumerable.Range(0, microBatches).Select(_ => Enumerable.Range(0, Rows * Boundary(stages)).Select(_ => random.NextDouble() - 0.5).ToArray()).ToArray();
        Loss = new SquaredErrorLoss(Targets);
    }

    public int Stages { get; }

    public double[][] Inputs { get; }

    public double[][] Targets { get; }

    public IPipelineLoss Loss { get; }

    public static int Boundary(int s) => 3 + s % 4;

    public MlpStage Stage(int s, Func<int, int, bool>? fail = null) => new(Rows, [Boundary(s), 5 + s % 3, Boundary(s + 1)], seed: 1000 + s, fail);

    /// <summary>
    /// Sequential execution of the same micro-batches in order through stages 0 … S − 1: forward, loss, backward; each
    /// micro-batch's gradient into its own zeroed buffer, the step's gradient their sum in micro-batch order.
    /// </summary>
    public (double Loss, double[] Losses, double[][] Gradients, double[][][] PerMicroBatch) Sequential()
    {
        var stages = Enumerable.Range(0, Stages).Select(s => Stage(s)).ToArray();
        var c = Inputs.Length;
        var losses = new double[c];
        var perMicroBatch = stages.Select(s => new double[c][]).ToArray();
        for (var m = 0; m < c; m++)
        {
            var x = Inputs[m];
            foreach (var stage in stages)
            {
                var y = new double[stage.OutputSize];
                stage.Forward(m, x, y);
                x = y;
            }
            var dy = new double[x.Length];
            losses[m] = Loss.Loss(m, x, dy);
            for (var s = Stages - 1; s >= 0; s--)
            {
                var dx = new double[stages[s].InputSize];
                stages[s].BackwardInput(m, dy, dx);
                perMicroBatch[s][m] = new double[stages[s].ParameterCount];
                stages[s].BackwardWeight(m, perMicroBatch[s][m]);
                dy = dx;
            }
        }
        var gradients = new double[Stages][];
        for (var s = 0; s < Stages; s++)
        {
            gradients[s] = new double[stages[s].ParameterCount];
            for (var m = 0; m < c; m++)
                for (var i = 0; i < gradients[s].Length; i++) gradients[s][i] += perMicroBatch[s][m][i];
        }
        var total = 0.0;
        foreach (var l in losses) total += l;
        return (total, losses, gradients, perMicroBatch);
    }
}
