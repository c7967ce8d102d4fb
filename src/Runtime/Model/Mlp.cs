using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Compute;

namespace DeepSeek.Runtime.Model;

/// <summary>SwiGLU MLP: <c>down(silu(gate(x)) ⊙ up(x))</c> — the dense MLP, each routed expert and the shared experts.</summary>
public sealed class Mlp
{
    private readonly IComputeBackend _backend;

    /// <summary>Binds the three projections.</summary>
    public Mlp(IComputeBackend backend, MlpWeights weights)
    {
        _backend = backend;
        W1 = backend.Bind(weights.Gate);
        W3 = backend.Bind(weights.Up);
        W2 = backend.Bind(weights.Down);
    }

    /// <summary><c>gate_proj</c> [inter, hidden].</summary>
    public ComputeWeight W1 { get; }

    /// <summary><c>up_proj</c> [inter, hidden].</summary>
    public ComputeWeight W3 { get; }

    /// <summary><c>down_proj</c> [hidden, inter].</summary>
    public ComputeWeight W2 { get; }

    /// <summary>x [T, hidden] → [T, hidden].</summary>
    public ComputeTensor Forward(ComputeTensor x)
    {
        var gate = _backend.Allocate(x.Rows, W1.Rows);   // (T, inter)
        var up = _backend.Allocate(x.Rows, W3.Rows);     // (T, inter)
        _backend.MatMul(x, W1, gate);
        _backend.MatMul(x, W3, up);
        _backend.SwiGlu(gate, up, gate);
        var y = _backend.Allocate(x.Rows, W2.Rows);      // (T, hidden)
        _backend.MatMul(gate, W2, y);
        return y;
    }
}
