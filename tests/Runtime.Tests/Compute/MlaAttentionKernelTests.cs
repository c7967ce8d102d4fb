using DeepSeek.Runtime.Compute;
using DeepSeek.Runtime.Compute.Cpu;
using DeepSeek.Runtime.Tensors;

namespace DeepSeek.Runtime.Tests.Compute;

/// <summary>
/// The CPU backend's absorbed MLA kernel over contexts longer than its position blocks (it walks the cache 64 positions
/// at a time with every head inside): against the unabsorbed math in double, and each row equal bit for bit to the row
/// computed alone, whatever the rows beside it (a speculative pair, other sequences) and the thread count.
/// </summary>
public sealed class MlaAttentionKernelTests : IDisposable
{
    private const int Heads = 3, Nope = 16, Rope = 8, V = 12, Latent = 40;
    private readonly MappedWeights _weights = new();

    public void Dispose() => _weights.Dispose();

    // Rows: a pair of one sequence (cache rows 0..151) past two block boundaries, one row of another (rows 200..270),
    // and the first token of a third (row 300).
    private static readonly TokenSlot[] Slots =
        [new(150, 0, 150), new(151, 0, 151), new(270, 200, 70), new(300, 300, 0)];

    private static float[] Run(CpuBackend backend, ComputeWeight wkvB, float[] q, float[] cache, TokenSlot[] slots, int[] rows)
    {
        var qt = backend.Allocate(rows.Length, Heads * (Nope + Rope));
        var all = new float[rows.Length * Heads * (Nope + Rope)];
        for (var i = 0; i < rows.Length; i++) q.AsSpan(rows[i] * Heads * (Nope + Rope), Heads * (Nope + Rope)).CopyTo(all.AsSpan(i * Heads * (Nope + Rope)));
        backend.Upload(all, qt);
        var ct = backend.Allocate(cache.Length / (Latent + Rope), Latent + Rope);
        backend.Upload(cache, ct);
        var o = backend.Allocate(rows.Length, Heads * V);
        backend.MlaAbsorbedAttention(qt, ct, wkvB, rows.Select(r => slots[r]).ToArray(), new MlaShape(Heads, Nope, Rope, V, Latent, 0.2f), o);
        var host = new float[rows.Length * Heads * V];
        backend.Download(o, host);
        return host;
    }

    [Theory]
    [InlineData(DType.F32)]
    [InlineData(DType.BF16)]
    [InlineData(DType.F8_E4M3)]
    public void Long_contexts_match_the_unabsorbed_math_and_each_row_its_run_alone(DType dtype)
    {
        var wValues = MappedWeights.Random(Heads * (Nope + V) * Latent, 1);
        var tensor = _weights.Write(wValues, Heads * (Nope + V), Latent, dtype, block: 32);
        var q = MappedWeights.Random(Slots.Length * Heads * (Nope + Rope), 2);
        var cache = MappedWeights.Random(301 * (Latent + Rope), 3);
        using var two = new CpuBackend(threads: 2);
        using var one = new CpuBackend(threads: 1);
        var w2 = two.Bind(tensor);
        var w1 = one.Bind(tensor);
        var w = new float[wValues.Length];
        for (var r = 0; r < Heads * (Nope + V); r++) ((CpuWeight)w1).DecodeRow(r, w.AsSpan(r * Latent, Latent));

        int[] rows = [0, 1, 2, 3];
        var batched = Run(two, w2, q, cache, Slots, rows);
        Assert.Equal(batched, Run(one, w1, q, cache, Slots, rows));
        for (var t = 0; t < rows.Length; t++)
            Assert.Equal(Run(one, w1, q, cache, Slots, [t]), batched.AsSpan(t * Heads * V, Heads * V).ToArray());

        for (var t = 0; t < rows.Length; t++)
            for (var h = 0; h < Heads; h++)
            {
                var s = Slots[t];
                var qh = q.AsSpan((t * Heads + h) * (Nope + Rope), Nope + Rope).ToArray();
                // Unabsorbed: k_nope_j = W_UK·c_j, v_j = W_UV·c_j, score = q_nope·k_nope + q_pe·k_pe.
                var scores = new double[s.Position + 1];
                var values = new double[s.Position + 1][];
                for (var j = 0; j <= s.Position; j++)
                {
                    var row = cache.AsSpan((s.FirstRow + j) * (Latent + Rope), Latent + Rope);
                    double score = 0;
                    for (var i = 0; i < Nope; i++)
                    {
                        double k = 0;
                        for (var c = 0; c < Latent; c++) k += (double)w[(h * (Nope + V) + i) * Latent + c] * row[c];
                        score += qh[i] * k;
                    }
                    for (var i = 0; i < Rope; i++) score += (double)qh[Nope + i] * row[Latent + i];
                    scores[j] = score * 0.2;
                    values[j] = new double[V];
                    for (var i = 0; i < V; i++)
                        for (var c = 0; c < Latent; c++) values[j][i] += (double)w[(h * (Nope + V) + Nope + i) * Latent + c] * row[c];
                }
                var max = scores.Max();
                var sum = scores.Sum(x => Math.Exp(x - max));
                for (var i = 0; i < V; i++)
                {
                    var expected = 0.0;
                    for (var j = 0; j <= s.Position; j++) expected += Math.Exp(scores[j] - max) / sum * values[j][i];
                    var got = batched[(t * Heads + h) * V + i];
                    Assert.True(Math.Abs(got - expected) <= 2e-5 + 2e-5 * Math.Abs(expected), $"{dtype} row {t} head {h} [{i}]: {got} vs {expected}");
                }
            }
    }
}
