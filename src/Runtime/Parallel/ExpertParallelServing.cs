using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Compute;
using DeepSeek.Runtime.Model;

namespace DeepSeek.Runtime.Distributed;

/// <summary>
/// Serves one model with its routed experts sharded over an expert-parallel group (<see cref="ExpertParallelMoe"/>):
/// rank 0 (the leader) runs the whole model — attention, dense layers, head, generation, HTTP — with MoE layers built by
/// <see cref="CreateLayer"/>; every other rank (a follower) holds only its share of each MoE layer's experts and runs
/// <see cref="ServeExperts"/>, answering the leader's tokens through the all-to-all. An expert of another rank is never
/// bound, so with memory-mapped checkpoints its weights are never paged in: that is what lets a model too large for one
/// process fit.
/// </summary>
/// <remarks>
/// <para>Protocol: before each MoE layer call the leader broadcasts a command naming the layer (main or MTP block), and
/// every follower calls that layer's collective forward with 0 rows of its own, so the call order always matches; a
/// negative layer tells the followers to return. The command also carries the config's shape and a fingerprint of the
/// layer's router weights, so ranks that loaded different checkpoints fail with a clear error instead of exchanging
/// garbage.</para>
/// <para>Requests may run on several threads, but a collective must be entered in the same order on every rank, so the
/// leader serialises MoE calls (broadcast + forward under one lock). Each call carries only its own request's tokens,
/// so the results equal the single-process model's (bit for bit on the CPU backend).</para>
/// <para>Failure: if a call fails after its command went out, the followers are inside a collective the leader may never
/// finish, so the group is aborted (<see cref="ICommunicator.Abort"/>) rather than left waiting.</para>
/// </remarks>
public sealed class ExpertParallelServing : IDisposable
{
    private const int CommandLength = 5;   // [layer, hidden_size, n_routed_experts, num_experts_per_tok, router fingerprint]

    private readonly ICommunicator _group;
    private readonly int _maxRanksPerToken;
    private readonly Lock _gate = new();
    private readonly int[] _command = new int[CommandLength];
    private bool _stopped;

    /// <summary>Serves over <paramref name="experts"/>: every rank of the group creates one, rank 0 leads.</summary>
    /// <param name="experts">The expert-parallel group (its size divides <c>n_routed_experts</c>).</param>
    /// <param name="maxRanksPerToken">Node-limited routing: most ranks one token's experts may span (0 = unlimited, which equals the single-process model).</param>
    public ExpertParallelServing(ICommunicator experts, int maxRanksPerToken = 0)
    {
        _group = experts ?? throw new ArgumentNullException(nameof(experts));
        ArgumentOutOfRangeException.ThrowIfNegative(maxRanksPerToken);
        _maxRanksPerToken = maxRanksPerToken;
    }

    /// <summary>The expert-parallel group.</summary>
    public ICommunicator Group => _group;

    /// <summary>True on rank 0, which runs the model; the other ranks run <see cref="ServeExperts"/>.</summary>
    public bool IsLeader => _group.Rank == 0;

    /// <summary>
    /// A <see cref="MoeLayerFactory"/> for the leader's <see cref="Transformer"/>: each MoE layer binds the router, the shared
    /// experts and rank 0's routed experts, and runs its calls together with the followers.
    /// </summary>
    /// <exception cref="InvalidOperationException">Called on a rank other than 0.</exception>
    /// <exception cref="ArgumentException">The experts do not divide evenly over the group.</exception>
    public IMoeLayer CreateLayer(IComputeBackend backend, ModelConfig config, MoeWeights weights, int layer)
    {
        if (!IsLeader)
            throw new InvalidOperationException($"rank {_group.Rank} serves experts (ServeExperts); only rank 0 builds the model's layers");
        ArgumentOutOfRangeException.ThrowIfNegative(layer);
        return new LeaderLayer(this, new ExpertParallelMoe(backend, config, weights, _group, _maxRanksPerToken), layer, config, Fingerprint(weights));
    }

    /// <summary>
    /// On a follower: binds this rank's share of every MoE layer of <paramref name="weights"/> (main layers and MTP blocks)
    /// and answers the leader's MoE calls until the leader calls <see cref="Stop"/>. Waiting for the next command polls
    /// gently, so an idle follower does not hold a core.
    /// </summary>
    /// <exception cref="InvalidOperationException">Called on rank 0.</exception>
    /// <exception cref="ArgumentException">The experts do not divide evenly over the group.</exception>
    /// <exception cref="ModelConfigException">The leader runs a model of another shape (hidden size, experts, MoE layers).</exception>
    /// <exception cref="CheckpointFormatException">The leader's router weights differ: it loaded another checkpoint.</exception>
    /// <exception cref="CommunicatorException">The group failed (another rank aborted, or the communicator broke).</exception>
    public void ServeExperts(IComputeBackend backend, WeightMap weights, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(backend);
        ArgumentNullException.ThrowIfNull(weights);
        if (IsLeader) throw new InvalidOperationException("rank 0 runs the model; ServeExperts is for the other ranks of the group");
        var config = weights.Config;
        var layers = new Dictionary<int, (ExpertParallelMoe Moe, int Fingerprint)>();
        foreach (var block in weights.Blocks.Concat(weights.Mtp.Select(m => m.Block)))
            if (block.Moe is { } moe) layers[block.Layer] = (new ExpertParallelMoe(backend, config, moe, _group, _maxRanksPerToken), Fingerprint(moe));

        var none = backend.Allocate(0, config.HiddenSize);   // (0, hidden): a follower has no tokens of its own
        var command = new int[CommandLength];
        while (true)
        {
            // The async form backs off to 1 ms sleeps while idle; the blocking form would spin a core between requests.
            _group.BroadcastAsync<int>(command, root: 0, cancellationToken).AsTask().GetAwaiter().GetResult();
            var layer = command[0];
            if (layer < 0) return;
            if (command[1] != config.HiddenSize || command[2] != config.NRoutedExperts || command[3] != config.NumExpertsPerTok)
                throw new ModelConfigException("hidden_size", $"rank 0 runs a model with hidden_size {command[1]}, n_routed_experts {command[2]}, num_experts_per_tok {command[3]}; " +
                    $"rank {_group.Rank} loaded {config.HiddenSize}, {config.NRoutedExperts}, {config.NumExpertsPerTok}: every rank must load the same checkpoint");
            if (!layers.TryGetValue(layer, out var moeLayer))
                throw new ModelConfigException("num_hidden_layers", $"rank 0 asked for MoE layer {layer}, which rank {_group.Rank}'s checkpoint does not have as an MoE layer: every rank must load the same checkpoint");
            if (command[4] != moeLayer.Fingerprint)
                throw new CheckpointFormatException($"rank 0's router weights of layer {layer} differ from rank {_group.Rank}'s: every rank must load the same checkpoint",
                    tensor: $"model.layers.{layer}.mlp.gate.weight");
            moeLayer.Moe.Forward(none);
        }
    }

    /// <summary>
    /// On the leader: tells the followers to return from <see cref="ServeExperts"/> (once; later calls do nothing). MoE calls
    /// after it fail. Waits for an MoE call in flight to finish first.
    /// </summary>
    public void Stop()
    {
        if (!IsLeader) return;
        lock (_gate)
        {
            if (_stopped) return;
            _stopped = true;
            _command.AsSpan().Clear();
            _command[0] = -1;
            _group.Broadcast<int>(_command, root: 0);
        }
    }

    /// <summary>
    /// FNV-1a over the router's weights and bias: small, replicated on every rank and different between any two trained
    /// checkpoints, so equal fingerprints mean the ranks route alike. (string.GetHashCode/HashCode are per-process random.)
    /// </summary>
    private static int Fingerprint(MoeWeights weights)
    {
        var hash = 2166136261u;
        foreach (var v in weights.Gate.ToFloatArray().Concat(weights.GateBias?.ToFloatArray() ?? []))
            hash = (hash ^ BitConverter.SingleToUInt32Bits(v)) * 16777619u;
        return unchecked((int)hash);
    }

    /// <summary>Stops the followers (<see cref="Stop"/>) when this is the leader; the group is the caller's to dispose.</summary>
    public void Dispose() => Stop();

    /// <summary>Rank 0's view of one MoE layer: announce it, then run the collective forward.</summary>
    private sealed class LeaderLayer(ExpertParallelServing owner, ExpertParallelMoe moe, int layer, ModelConfig config, int fingerprint) : IMoeLayer
    {
        public ComputeTensor Forward(ComputeTensor x, int layerIndex, ForwardTrace? trace, ActivationScratch? scratch = null)
        {
            ArgumentNullException.ThrowIfNull(x);
            lock (owner._gate)
            {
                if (owner._stopped) throw new InvalidOperationException("the expert-parallel group was stopped; no MoE layer can run any more");
                var command = owner._command;
                command[0] = layer;
                command[1] = config.HiddenSize;
                command[2] = config.NRoutedExperts;
                command[3] = config.NumExpertsPerTok;
                command[4] = fingerprint;
                owner._group.Broadcast<int>(command, root: 0);
                try
                {
                    return moe.Forward(x);
                }
                catch (Exception e) when (e is not CommunicatorException)
                {
                    // The followers are inside this layer's collectives and would wait for rank 0 forever.
                    owner._stopped = true;
                    owner._group.Abort($"rank 0 failed in MoE layer {layer}: {e.GetType().Name}: {e.Message}");
                    throw;
                }
            }
        }
    }
}
