using DeepSeek.Runtime.Tensors;

namespace DeepSeek.Runtime.Checkpoints;

/// <summary>A bound weight: the stored tensor and, for block-FP8 weights, its <c>_scale_inv</c> grid.</summary>
/// <param name="Tensor">The stored tensor.</param>
/// <param name="ScaleInv">Per-block dequantisation scales of an F8_E4M3 weight; null otherwise.</param>
/// <param name="BlockRows">Rows per scale block (<c>weight_block_size[0]</c>).</param>
/// <param name="BlockCols">Columns per scale block (<c>weight_block_size[1]</c>).</param>
public sealed record WeightTensor(CheckpointTensor Tensor, CheckpointTensor? ScaleInv, int BlockRows = BlockFp8.DefaultBlockSize, int BlockCols = BlockFp8.DefaultBlockSize)
{
    /// <summary>Tensor name.</summary>
    public string Name => Tensor.Name;

    /// <summary>True when stored as block-scaled F8_E4M3.</summary>
    public bool IsFp8 => ScaleInv is not null;

    /// <summary>Decodes the whole tensor to fp32 on the host (for small tensors: norms, biases, router bias; tests).</summary>
    public float[] ToFloatArray()
    {
        var shape = Tensor.Shape;
        var values = new float[checked((int)shape.ElementCount)];
        switch (Tensor.DType)
        {
            case DType.F32: Tensor.View<float>().Span.CopyTo(values); break;
            case DType.BF16: BFloat16Codec.ToSingle(Tensor.View<ushort>().Span, values); break;
            case DType.F16: System.Numerics.Tensors.TensorPrimitives.ConvertToSingle(Tensor.View<Half>().Span, values); break;
            case DType.F8_E4M3:
                var scales = new WeightTensor(ScaleInv!.Value, null).ToFloatArray();
                BlockFp8.Dequantize(Tensor.View<byte>().Span, (int)shape[0], (int)shape[1], scales, values, BlockRows, BlockCols);
                break;
            default: throw new NotSupportedException($"tensor '{Name}' has dtype {Tensor.DType}, not a floating-point weight");
        }
        return values;
    }
}

/// <summary>SwiGLU MLP weights: <c>down(silu(gate(x)) ⊙ up(x))</c>.</summary>
public sealed record MlpWeights(WeightTensor Gate, WeightTensor Up, WeightTensor Down);

/// <summary>DeepSeekMoE weights: router, routed experts and the shared experts (fused into one MLP).</summary>
public sealed record MoeWeights(WeightTensor Gate, WeightTensor? GateBias, IReadOnlyList<MlpWeights> Experts, MlpWeights? SharedExperts);

/// <summary>Multi-head latent attention weights, named as in DeepSeek's model.py.</summary>
public sealed record MlaWeights(WeightTensor? Wq, WeightTensor? WqA, WeightTensor? QNorm, WeightTensor? WqB, WeightTensor WkvA, WeightTensor KvNorm, WeightTensor WkvB, WeightTensor Wo);

/// <summary>Grouped-query attention weights of the dense distills, with optional biases.</summary>
public sealed record GqaWeights(WeightTensor Wq, WeightTensor Wk, WeightTensor Wv, WeightTensor Wo, WeightTensor? Bq, WeightTensor? Bk, WeightTensor? Bv, WeightTensor? Bo);

/// <summary>One decoder block: norms, attention (MLA or GQA) and feed-forward (dense MLP or MoE).</summary>
public sealed record BlockWeights(int Layer, WeightTensor AttnNorm, WeightTensor FfnNorm, MlaWeights? Mla, GqaWeights? Gqa, MlpWeights? Mlp, MoeWeights? Moe);

/// <summary>A multi-token-prediction module (layer index ≥ <c>num_hidden_layers</c>).</summary>
public sealed record MtpWeights(int Layer, WeightTensor ENorm, WeightTensor HNorm, WeightTensor EhProj, BlockWeights Block, WeightTensor HeadNorm, WeightTensor? Embed, WeightTensor? Head);

/// <summary>
/// A checkpoint's tensors bound to typed slots, every shape checked against the config. Built by
/// <see cref="Bind"/>, which refuses a checkpoint with any missing or misshapen tensor.
/// </summary>
public sealed class WeightMap
{
    private readonly Checkpoint _checkpoint;

    private WeightMap(Checkpoint checkpoint, WeightReport report)
    {
        _checkpoint = checkpoint;
        Report = report;
        var c = checkpoint.Config;
        Embed = W("model.embed_tokens.weight");
        Norm = W("model.norm.weight");
        LmHead = c.TieWordEmbeddings ? null : W("lm_head.weight");
        Blocks = Enumerable.Range(0, c.NumHiddenLayers).Select(BindBlock).ToList();
        Mtp = Enumerable.Range(c.NumHiddenLayers, c.NumNextNPredictLayers).Select(layer =>
        {
            var p = WeightLayout.LayerPrefix(layer);
            return new MtpWeights(layer, W(p + "enorm.weight"), W(p + "hnorm.weight"), W(p + "eh_proj.weight"), BindBlock(layer),
                W(p + "shared_head.norm.weight"), Maybe(p + "embed_tokens.weight"), Maybe(p + "shared_head.head.weight"));
        }).ToList();
    }

    /// <summary>The model config.</summary>
    public ModelConfig Config => _checkpoint.Config;

    /// <summary>The validation report the binding passed.</summary>
    public WeightReport Report { get; }

    /// <summary><c>model.embed_tokens.weight</c> [vocab, hidden].</summary>
    public WeightTensor Embed { get; }

    /// <summary><c>model.norm.weight</c> [hidden].</summary>
    public WeightTensor Norm { get; }

    /// <summary><c>lm_head.weight</c> [vocab, hidden]; null when tied to <see cref="Embed"/>.</summary>
    public WeightTensor? LmHead { get; }

    /// <summary>Decoder blocks 0 … num_hidden_layers − 1.</summary>
    public IReadOnlyList<BlockWeights> Blocks { get; }

    /// <summary>Multi-token-prediction modules (empty when <c>num_nextn_predict_layers</c> is 0).</summary>
    public IReadOnlyList<MtpWeights> Mtp { get; }

    /// <summary>Checks and binds every tensor of <paramref name="checkpoint"/>.</summary>
    /// <exception cref="CheckpointFormatException">A tensor is missing, misshapen or of a forbidden dtype; the message names it.</exception>
    public static WeightMap Bind(Checkpoint checkpoint)
    {
        var report = WeightReport.Check(checkpoint);
        report.ThrowIfInvalid(checkpoint.Directory);
        return new WeightMap(checkpoint, report);
    }

    private BlockWeights BindBlock(int layer)
    {
        var c = Config;
        var p = WeightLayout.LayerPrefix(layer);
        MlaWeights? mla = null;
        GqaWeights? gqa = null;
        if (c.IsMla)
        {
            var a = p + "self_attn.";
            mla = c.QLoraRank is null
                ? new MlaWeights(W(a + "q_proj.weight"), null, null, null, W(a + "kv_a_proj_with_mqa.weight"), W(a + "kv_a_layernorm.weight"), W(a + "kv_b_proj.weight"), W(a + "o_proj.weight"))
                : new MlaWeights(null, W(a + "q_a_proj.weight"), W(a + "q_a_layernorm.weight"), W(a + "q_b_proj.weight"), W(a + "kv_a_proj_with_mqa.weight"), W(a + "kv_a_layernorm.weight"), W(a + "kv_b_proj.weight"), W(a + "o_proj.weight"));
        }
        else
        {
            var a = p + "self_attn.";
            gqa = new GqaWeights(W(a + "q_proj.weight"), W(a + "k_proj.weight"), W(a + "v_proj.weight"), W(a + "o_proj.weight"),
                Maybe(a + "q_proj.bias"), Maybe(a + "k_proj.bias"), Maybe(a + "v_proj.bias"), Maybe(a + "o_proj.bias"));
        }

        MlpWeights? mlp = null;
        MoeWeights? moe = null;
        if (c.IsMoeLayer(layer))
        {
            var experts = Enumerable.Range(0, c.NRoutedExperts).Select(e => Mlp($"{p}mlp.experts.{e}.")).ToList();
            moe = new MoeWeights(W(p + "mlp.gate.weight"), Maybe(p + "mlp.gate.e_score_correction_bias"), experts,
                c.NSharedExperts > 0 ? Mlp(p + "mlp.shared_experts.") : null);
        }
        else
        {
            mlp = Mlp(p + "mlp.");
        }
        return new BlockWeights(layer, W(p + "input_layernorm.weight"), W(p + "post_attention_layernorm.weight"), mla, gqa, mlp, moe);
    }

    private MlpWeights Mlp(string prefix) => new(W(prefix + "gate_proj.weight"), W(prefix + "up_proj.weight"), W(prefix + "down_proj.weight"));

    /// <summary>Any tensor of the checkpoint by Hugging Face name, bound with its FP8 scales; null when absent.</summary>
    public WeightTensor? Tensor(string name) => Maybe(name);

    private WeightTensor W(string name) => Maybe(name) ?? throw new CheckpointFormatException("tensor not found in checkpoint", _checkpoint.Directory, name);

    private WeightTensor? Maybe(string name)
    {
        if (!_checkpoint.TryGet(name, out var t)) return null;
        CheckpointTensor? scale = _checkpoint.TryGet(name + Checkpoint.ScaleInvSuffix, out var s) && t.DType == DType.F8_E4M3 ? s : null;
        var q = Config.Quantization;
        return new WeightTensor(t, scale, q?.BlockRows ?? BlockFp8.DefaultBlockSize, q?.BlockCols ?? BlockFp8.DefaultBlockSize);
    }
}
