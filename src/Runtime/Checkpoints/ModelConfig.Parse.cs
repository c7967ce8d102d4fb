using System.Text.Json;

namespace DeepSeek.Runtime.Checkpoints;

public sealed partial record ModelConfig
{
    /// <summary>Largest <c>config.json</c> accepted; real ones are a few KiB.</summary>
    private const long MaxConfigBytes = 16 << 20;

    private static readonly JsonDocumentOptions JsonOptions = new() { MaxDepth = 64 };

    /// <summary>
    /// Reads and parses a <c>config.json</c>. <paramref name="configJsonPath"/> may also name a checkpoint
    /// directory, in which case its <c>config.json</c> is read.
    /// </summary>
    /// <exception cref="ModelConfigException">The file cannot be read (key <c>(file)</c>) or its content is invalid.</exception>
    public static ModelConfig Load(string configJsonPath)
    {
        ArgumentNullException.ThrowIfNull(configJsonPath);
        string path = configJsonPath;
        string json;
        try
        {
            if (Directory.Exists(path))
                path = Path.Combine(path, "config.json");
            var info = new FileInfo(path);
            if (!info.Exists)
                throw new ModelConfigException("(file)", "config file not found", path);
            if (info.Length > MaxConfigBytes)
                throw new ModelConfigException("(file)", $"file is {info.Length} bytes; a config.json over {MaxConfigBytes} bytes is not plausible", path);
            json = File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException or System.Security.SecurityException)
        {
            throw new ModelConfigException("(file)", $"cannot read config file: {ex.Message}", path, ex);
        }
        return Parse(json, path);
    }

    /// <summary>
    /// Parses <c>config.json</c> text, fills defaults and <see cref="Validate()"/>s the result.
    /// Unknown keys are ignored. <paramref name="sourceName"/> (a file name) is quoted in errors.
    /// </summary>
    /// <exception cref="ModelConfigException">
    /// Invalid JSON or a non-object root (key <c>(json)</c>, with line and byte position), or a missing,
    /// mistyped, unsupported or contradictory value (key = its JSON path).
    /// </exception>
    public static ModelConfig Parse(string json, string? sourceName = null)
    {
        ArgumentNullException.ThrowIfNull(json);
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json, JsonOptions);
        }
        catch (JsonException ex)
        {
            throw new ModelConfigException("(json)",
                $"invalid JSON at line {(ex.LineNumber ?? 0) + 1}, byte {(ex.BytePositionInLine ?? 0) + 1}: {ex.Message}", sourceName, ex);
        }
        catch (ArgumentException ex)
        {
            // Unpaired UTF-16 surrogates cannot be transcoded to UTF-8.
            throw new ModelConfigException("(json)", $"invalid text: {ex.Message}", sourceName, ex);
        }

        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw new ModelConfigException("(json)",
                    $"the root must be a JSON object, got {ConfigJsonObject.Describe(doc.RootElement)}", sourceName);
            var config = Read(new ConfigJsonObject(doc.RootElement, "", sourceName));
            config.Validate(sourceName);
            return config;
        }
    }

    private static ModelConfig Read(ConfigJsonObject o)
    {
        string modelType = o.RequireString("model_type");
        if (!ModelConfigNames.TryParseModelType(modelType, out var arch))
            throw o.Error("model_type",
                $"unsupported model_type '{modelType}'; supported: {string.Join(", ", ModelConfigNames.SupportedModelTypes)}");

        int heads = o.RequireInt("num_attention_heads");
        int hidden = o.RequireInt("hidden_size");
        var common = new ModelConfig
        {
            Architecture = arch,
            VocabSize = o.RequireInt("vocab_size"),
            HiddenSize = hidden,
            IntermediateSize = o.RequireInt("intermediate_size"),
            NumHiddenLayers = o.RequireInt("num_hidden_layers"),
            NumAttentionHeads = heads,
            NumKeyValueHeads = o.OptInt("num_key_value_heads", heads),
            RopeTheta = o.OptDouble("rope_theta", 10000.0),
            RopeScaling = RopeScaling.Read(o),
            RmsNormEps = o.OptDouble("rms_norm_eps", 1e-6),
            MaxPositionEmbeddings = o.OptInt("max_position_embeddings", arch switch
            {
                ModelArchitecture.DeepSeekV3 => 4096,
                ModelArchitecture.Qwen2 => 32768,
                _ => 2048,
            }),
            TieWordEmbeddings = o.OptBool("tie_word_embeddings", false),
            AttentionBias = o.OptBool("attention_bias", arch == ModelArchitecture.Qwen2),
            BosTokenId = o.OptNullableInt("bos_token_id"),
            EosTokenIds = ReadTokenIds(o, "eos_token_id"),
            TorchDtype = o.OptString("torch_dtype", null) ?? o.OptString("dtype", null),
            HiddenAct = o.OptString("hidden_act", "silu")!,
            Quantization = QuantizationConfig.Read(o),
        };
        return common.IsMla ? ReadMla(o, common) : ReadDense(o, common);
    }

    private static ModelConfig ReadDense(ConfigJsonObject o, ModelConfig c)
    {
        int headDim;
        if (o.Has("head_dim"))
            headDim = o.RequireInt("head_dim");
        else if (c.NumAttentionHeads <= 0)
            headDim = 0; // Validate reports num_attention_heads.
        else if (c.HiddenSize % c.NumAttentionHeads != 0)
            throw o.Error("hidden_size",
                $"{c.HiddenSize} is not divisible by num_attention_heads {c.NumAttentionHeads} and head_dim is absent");
        else
            headDim = c.HiddenSize / c.NumAttentionHeads;
        return c with { HeadDim = headDim };
    }

    private static ModelConfig ReadMla(ConfigJsonObject o, ModelConfig c)
    {
        bool v3 = c.Architecture == ModelArchitecture.DeepSeekV3;
        int routed = o.OptNullableInt("n_routed_experts") ?? 0;
        bool moe = routed > 0;
        int nope = o.RequireInt("qk_nope_head_dim");
        int rope = o.RequireInt("qk_rope_head_dim");

        var topk = v3 ? TopKMethod.NoAuxTc : TopKMethod.Greedy;
        if (o.TryGet("topk_method", out var tk))
        {
            string name = o.AsString("topk_method", tk);
            if (!ModelConfigNames.TryParseTopKMethod(name, out topk))
                throw o.Error("topk_method", $"unsupported topk_method '{name}'; supported: greedy, group_limited_greedy, noaux_tc");
        }
        var scoring = v3 ? ScoringFunction.Sigmoid : ScoringFunction.Softmax;
        if (o.TryGet("scoring_func", out var sf))
        {
            string name = o.AsString("scoring_func", sf);
            if (!ModelConfigNames.TryParseScoringFunction(name, out scoring))
                throw o.Error("scoring_func", $"unsupported scoring_func '{name}'; supported: softmax, sigmoid");
        }

        return c with
        {
            HeadDim = nope + rope,
            QLoraRank = o.OptNullableInt("q_lora_rank"),
            KvLoraRank = o.RequireInt("kv_lora_rank"),
            QkNopeHeadDim = nope,
            QkRopeHeadDim = rope,
            VHeadDim = o.RequireInt("v_head_dim"),
            NRoutedExperts = routed,
            NSharedExperts = o.OptNullableInt("n_shared_experts") ?? 0,
            MoeIntermediateSize = moe ? o.RequireInt("moe_intermediate_size") : o.OptInt("moe_intermediate_size", 0),
            NumExpertsPerTok = moe ? o.RequireInt("num_experts_per_tok") : o.OptNullableInt("num_experts_per_tok") ?? 0,
            FirstKDenseReplace = o.OptInt("first_k_dense_replace", 0),
            MoeLayerFreq = o.OptInt("moe_layer_freq", 1),
            NGroup = o.OptNullableInt("n_group") ?? 1,
            TopKGroup = o.OptNullableInt("topk_group") ?? 1,
            TopKMethod = topk,
            ScoringFunc = scoring,
            NormTopKProb = o.OptBool("norm_topk_prob", v3),
            RoutedScalingFactor = o.OptDouble("routed_scaling_factor", 1.0),
            NumNextNPredictLayers = o.OptInt("num_nextn_predict_layers", 0),
        };
    }

    private static TokenIdList ReadTokenIds(ConfigJsonObject o, string key)
    {
        if (!o.TryGet(key, out var v))
            return TokenIdList.Empty;
        if (v.ValueKind == JsonValueKind.Number)
            return TokenIdList.From([o.AsInt(key, v)]);
        if (v.ValueKind != JsonValueKind.Array)
            throw o.Error(key, $"must be an integer or a list of integers, got {ConfigJsonObject.Describe(v)}");
        var ids = new List<int>(v.GetArrayLength());
        foreach (var item in v.EnumerateArray())
            ids.Add(o.AsInt(key, item));
        return TokenIdList.From(ids);
    }
}
