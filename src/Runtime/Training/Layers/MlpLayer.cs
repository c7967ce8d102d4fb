using System.Numerics;
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

    /// <summary>Runs the MLP; returns what the backward needs.</summary>
    public static Saved<T> Forward<T>(MlpParameters<T> p, ReadOnlySpan<T> x, Span<T> y, int rows) where T : IFloatingPointIeee754<T>
    {
        var g = new T[rows * p.Inter];
        var u = new T[rows * p.Inter];
        var h = new T[rows * p.Inter];
        LinearOp.Forward<T>(x, p.Gate, [], g, rows, p.Hidden, p.Inter);
        LinearOp.Forward<T>(x, p.Up, [], u, rows, p.Hidden, p.Inter);
        SwiGluOp.Forward<T>(g, u, h);
        LinearOp.Forward<T>(h, p.Down, [], y, rows, p.Inter, p.Hidden);
        return new Saved<T>(x.ToArray(), g, u, h, rows);
    }

    /// <summary>Accumulates parameter gradients and dx.</summary>
    public static void Backward<T>(MlpParameters<T> p, Saved<T> s, ReadOnlySpan<T> dy, MlpParameters<T> grads, Span<T> dx) where T : IFloatingPointIeee754<T>
    {
        var dh = new T[s.H.Length];
        LinearOp.Backward<T>(dy, s.H, p.Down, dh, grads.Down, [], s.Rows, p.Inter, p.Hidden);
        var dg = new T[s.G.Length];
        var du = new T[s.U.Length];
        SwiGluOp.Backward<T>(dh, s.G, s.U, dg, du);
        LinearOp.Backward<T>(dg, s.X, p.Gate, dx, grads.Gate, [], s.Rows, p.Hidden, p.Inter);
        LinearOp.Backward<T>(du, s.X, p.Up, dx, grads.Up, [], s.Rows, p.Hidden, p.Inter);
    }
}
