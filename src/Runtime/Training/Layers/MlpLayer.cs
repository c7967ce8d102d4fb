using System.Numerics;
using DeepSeek.Runtime.Tensors;
using DeepSeek.Runtime.Training.Lora;
using DeepSeek.Runtime.Training.Ops;

namespace DeepSeek.Runtime.Training.Layers;

/// <summary>SwiGLU MLP weights (or gradients): gate/up [inter, hidden], down [hidden, inter].</summary>
public sealed class MlpParameters<T>(int hidden, int inter) where T : IFloatingPointIeee754<T>
{
    /// <summary>Hidden width.</summary>
    public int Hidden { get; } = hidden;
    /// <summary>Intermediate width.</summary>
    public int Inter { get; } = inter;
    /// <summary><c>gate_proj</c>.</summary>
    public T[] Gate { get; } = new T[inter * hidden];
    /// <summary><c>up_proj</c>.</summary>
    public T[] Up { get; } = new T[inter * hidden];
    /// <summary><c>down_proj</c>.</summary>
    public T[] Down { get; } = new T[hidden * inter];

    /// <summary>Every tensor.</summary>
    public IEnumerable<(string Name, T[] Values)> Tensors() => [("gate_proj", Gate), ("up_proj", Up), ("down_proj", Down)];
}

/// <summary>SwiGLU MLP over <c>rows</c> rows: y = down(silu(gate(x)) ⊙ up(x)); forward keeps g, u, h for the backward.</summary>
public static class MlpLayer
{
    /// <summary>Activations of one call: gate (rows, inter), up (rows, inter), h (rows, inter).</summary>
    public sealed record Saved<T>(T[] X, T[] G, T[] U, T[] H, int Rows);

    /// <summary>Runs the MLP; returns what the backward needs (freshly allocated: the reference path beside the planned one).</summary>
    public static Saved<T> Forward<T>(MlpParameters<T> p, ReadOnlySpan<T> x, Span<T> y, int rows) where T : IFloatingPointIeee754<T>
    {
        var g = new T[rows * p.Inter];
        var u = new T[rows * p.Inter];
        var h = new T[rows * p.Inter];
        Forward(p, x, y, rows, g, u, h, null);
        return new Saved<T>(x[..(rows * p.Hidden)].ToArray(), g, u, h, rows);
    }

    /// <summary>Accumulates parameter gradients and dx.</summary>
    public static void Backward<T>(MlpParameters<T> p, Saved<T> s, ReadOnlySpan<T> dy, MlpParameters<T> grads, Span<T> dx) where T : IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(s);
        var n = s.Rows * p.Inter;
        Backward(p, s.X, s.G, s.U, s.H, dy, grads, dx, s.Rows, new T[n], new T[n], new T[n], null);
    }

    /// <summary>Forward into planned buffers g, u, h [rows, inter]; <paramref name="lora"/> adds the adapted projections' branches.</summary>
    internal static void Forward<T>(MlpParameters<T> p, ReadOnlySpan<T> x, Span<T> y, int rows, Span<T> g, Span<T> u, Span<T> h, LoraBranches<T>? lora)
        where T : IFloatingPointIeee754<T>
    {
        var n = rows * p.Inter;
        g = g[..n];
        u = u[..n];
        h = h[..n];
        Projection.Forward(lora, x, p.Gate, [], g, rows, p.Hidden, p.Inter);
        Projection.Forward(lora, x, p.Up, [], u, rows, p.Hidden, p.Inter);
        SwiGluOp.Forward<T>(g, u, h);
        Projection.Forward(lora, h, p.Down, [], y, rows, p.Inter, p.Hidden);
    }

    /// <summary>Backward from the forward's x, g, u, h; dh, dg, du [rows, inter] are scratch.</summary>
    internal static void Backward<T>(MlpParameters<T> p, ReadOnlySpan<T> x, ReadOnlySpan<T> g, ReadOnlySpan<T> u, ReadOnlySpan<T> h, ReadOnlySpan<T> dy,
        MlpParameters<T> grads, Span<T> dx, int rows, Span<T> dh, Span<T> dg, Span<T> du, LoraBranches<T>? lora) where T : IFloatingPointIeee754<T>
    {
        var n = rows * p.Inter;
        dh = dh[..n];
        dg = dg[..n];
        du = du[..n];
        dh.Clear();
        Projection.Backward(lora, dy, h, p.Down, dh, grads.Down, [], rows, p.Inter, p.Hidden);
        dg.Clear();
        du.Clear();
        SwiGluOp.Backward<T>(dh, g[..n], u[..n], dg, du);
        Projection.Backward(lora, dg, x, p.Gate, dx, grads.Gate, [], rows, p.Hidden, p.Inter);
        Projection.Backward(lora, du, x, p.Up, dx, grads.Up, [], rows, p.Hidden, p.Inter);
    }
}

/// <summary>An MLP's buffers for up to <c>maxRows</c> rows, planned once: g, u, h kept; dh, dg, du scratch.</summary>
internal sealed class MlpBuffers<T> where T : IFloatingPointIeee754<T>
{
    private readonly ArenaArray<T> _acts, _scratch;
    private readonly ArenaSlice _g, _u, _h, _dh, _dg, _du;

    /// <summary>Kept buffers for <paramref name="maxRows"/> rows; scratch for <paramref name="scratchRows"/> (default the same), the most one backward call runs.</summary>
    public MlpBuffers(ArenaArray<T> acts, ArenaArray<T> scratch, string name, int maxRows, int inter, int? scratchRows = null)
    {
        (_acts, _scratch) = (acts, scratch);
        var n = (long)maxRows * inter;
        var d = (long)(scratchRows ?? maxRows) * inter;
        _g = acts.Add(name + ".g", n);                                  // (rows, inter)
        _u = acts.Add(name + ".u", n);                                  // (rows, inter)
        _h = acts.Add(name + ".h", n);                                  // (rows, inter)
        _dh = scratch.Add(name + ".d_h", d);
        _dg = scratch.Add(name + ".d_g", d);
        _du = scratch.Add(name + ".d_u", d);
    }

    /// <summary>Runs the MLP on rows [<paramref name="first"/>, first + rows) of the kept buffers.</summary>
    public void Forward(MlpParameters<T> p, ReadOnlySpan<T> x, Span<T> y, int first, int rows, LoraBranches<T>? lora)
    {
        int at = first * p.Inter, n = rows * p.Inter;
        MlpLayer.Forward(p, x, y, rows, _acts[_g].Slice(at, n), _acts[_u].Slice(at, n), _acts[_h].Slice(at, n), lora);
    }

    /// <summary>Backward of <see cref="Forward"/> over the same rows; <paramref name="x"/> is that forward's input.</summary>
    public void Backward(MlpParameters<T> p, ReadOnlySpan<T> x, ReadOnlySpan<T> dy, MlpParameters<T> grads, Span<T> dx, int first, int rows, LoraBranches<T>? lora)
    {
        int at = first * p.Inter, n = rows * p.Inter;
        MlpLayer.Backward(p, x, _acts[_g].Slice(at, n), _acts[_u].Slice(at, n), _acts[_h].Slice(at, n), dy, grads, dx, rows,
            _scratch[_dh], _scratch[_dg], _scratch[_du], lora);
    }
}
