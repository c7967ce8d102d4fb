using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Compute;

namespace DeepSeek.Runtime.Model;

/// <summary>
/// Builds the MoE layer of block <paramref name="layer"/> (main layers and MTP blocks alike) in place of the
/// single-process <see cref="Moe"/>; <see cref="Transformer"/> takes one to serve a model whose experts are sharded.
/// </summary>
/// <param name="backend">The model's backend.</param>
/// <param name="config">Model config.</param>
/// <param name="weights">The layer's weights (views: an implementation binds only what it runs).</param>
/// <param name="layer">Layer index (<c>num_hidden_layers</c> and up for MTP blocks).</param>
public delegate IMoeLayer MoeLayerFactory(IComputeBackend backend, ModelConfig config, MoeWeights weights, int layer);
