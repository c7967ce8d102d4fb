namespace DeepSeek.Runtime.Distributed.Pipeline;

/// <summary>
/// A small float64 pipeline stage: layers y = tanh(x·Wᵀ + b) over a fixed number of rows per micro-batch, with the forward and
/// the split backward (input, then weights) written out by hand, llm.c style. It is the stage the pipeline equality tests,
/// the MPI scenario and the benchmark run; parameters come from a seed, so every rank that builds stage s holds the same numbers.
/// </summary>
public sealed class TanhMlpStage : IPipelineStage
{
    private readonly int _rows;
    private readonly int[] _widths;            // layer l maps _widths[l] → _widths[l + 1]
    private readonly double[] _parameters;     // per layer: W (out, in) then b (out)
    private readonly int[] _offsets;
    private readonly Dictionary<int, double[][]> _activations = [];   // micro-batch → per layer: input x_l (rows, in), last: output
    private readonly Dictionary<int, double[][]> _preGradients = [];  // micro-batch → per layer: dL/dz_l (rows, out)

    /// <summary>Creates the stage: layer l maps <c>widths[l]</c> → <c>widths[l + 1]</c> features; weights uniform in ±0.7 from <paramref name="seed"/>.</summary>
    public TanhMlpStage(int rows, IReadOnlyList<int> widths, int seed)
    {
        ArgumentNullException.ThrowIfNull(widths);
        ArgumentOutOfRangeException.ThrowIfLessThan(rows, 1);
        if (widths.Count < 2 || widths.Any(w => w < 1))
            throw new ArgumentException($"a stage needs at least two widths (input, output), all positive; got [{string.Join(", ", widths)}]", nameof(widths));
        _rows = rows;
        _widths = widths.ToArray();
        _offsets = new int[_widths.Length];
        var total = 0;
        for (var l = 0; l + 1 < _widths.Length; l++)
        {
            _offsets[l] = total;
            total += _widths[l + 1] * _widths[l] + _widths[l + 1];
        }
        _parameters = new double[total];
        var random = new Random(seed);
        for (var i = 0; i < total; i++) _parameters[i] = (random.NextDouble() * 2 - 1) * 0.7;
    }

    /// <inheritdoc/>
    public int InputSize => _rows * _widths[0];

    /// <inheritdoc/>
    public int OutputSize => _rows * _widths[^1];

    /// <inheritdoc/>
    public int ParameterCount => _parameters.Length;

    private int Layers => _widths.Length - 1;

    /// <inheritdoc/>
    public void Forward(int microBatch, ReadOnlySpan<double> input, Span<double> output)
    {
        if (input.Length != InputSize || output.Length != OutputSize)
            throw new ArgumentException($"forward takes {InputSize} inputs and {OutputSize} outputs, got {input.Length} and {output.Length}");
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

    /// <inheritdoc/>
    public void BackwardInput(int microBatch, ReadOnlySpan<double> outputGradient, Span<double> inputGradient)
    {
        double[][] saved;
        lock (_activations)
            if (!_activations.TryGetValue(microBatch, out saved!))
                throw new InvalidOperationException($"backward of micro-batch {microBatch} before its forward");
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

    /// <inheritdoc/>
    public void BackwardWeight(int microBatch, Span<double> parameterGradient)
    {
        double[][] saved, pre;
        lock (_preGradients)
            if (!_preGradients.Remove(microBatch, out pre!))
                throw new InvalidOperationException($"weight step of micro-batch {microBatch} before its input backward");
        lock (_activations) _activations.Remove(microBatch, out saved!);
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
