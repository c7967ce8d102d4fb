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

    /// <summary>x [T, hidden] → [T, hidden]; activations from <paramref name="scratch"/> when given (the result is valid until its next call).</summary>
    public ComputeTensor Forward(ComputeTensor x, ActivationScratch? scratch = null)
    {
        scratch ??= new ActivationScratch(_backend);
        var gate = scratch.Tensor(this, 0, x.Rows, W1.Rows);   // (T, inter)
        var up = scratch.Tensor(this, 1, x.Rows, W3.Rows);     // (T, inter)
        _backend.MatMul(x, W1, gate);
        _backend.MatMul(x, W3, up);
        _backend.SwiGlu(gate, up, gate);
        var y = scratch.Tensor(this, 2, x.Rows, W2.Rows);     // (T, hidden)
        _backend.MatMul(gate, W2, y);
        return y;
    }
}
