using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Tests.Checkpoints;

namespace DeepSeek.Runtime.Tests.Hosting;

/// <summary>
/// A random-weight DeepSeek-V3-shaped checkpoint (hidden 32, 2 layers, BF16) with the real DeepSeek-V3 tokenizer and chat
/// template, written once per test class. Its vocabulary is V3's 129280, which covers every added token of the tokenizer
/// (highest id 128814). Output is deterministic but meaningless: for plumbing tests only.
/// </summary>
public sealed class TinyChatModelFixture : IDisposable
{
    private readonly TempDir _dir = new();

    public TinyChatModelFixture()
    {
        ModelPath = Write(_dir.File("tiny-chat"));
    }

    /// <summary>The checkpoint folder (its name, <c>tiny-chat</c>, is the default model id).</summary>
    public string ModelPath { get; }

    public static ModelConfig Config => ModelConfig.Parse(ConfigFixtures.TinyV3, "TinyV3") with
    {
        VocabSize = 129280,
        HiddenSize = 32,
        IntermediateSize = 64,
        MoeIntermediateSize = 16,
        NumHiddenLayers = 2,
        NumAttentionHeads = 2,
        NumKeyValueHeads = 2,
        QLoraRank = 16,
        KvLoraRank = 16,
        QkNopeHeadDim = 8,
        QkRopeHeadDim = 8,
        VHeadDim = 8,
        NRoutedExperts = 4,
        NumExpertsPerTok = 2,
        NGroup = 2,
        TopKGroup = 1,
        NumNextNPredictLayers = 0,
        MaxPositionEmbeddings = 512,
        BosTokenId = 0,
    };

    /// <summary>Writes the checkpoint and copies the DeepSeek-V3 tokenizer files into <paramref name="path"/>.</summary>
    public static string Write(string path, string tokenizerConfig = "", ModelConfig? config = null)
    {
        SyntheticCheckpoint.Write(config ?? Config, path, new SyntheticCheckpointOptions { Seed = 11, InitStd = 0.5f });
        var tokenizer = RepoPaths.TestData("tokenizers", "deepseek-v3");
        File.Copy(Path.Combine(tokenizer, "tokenizer.json"), Path.Combine(path, "tokenizer.json"));
        File.Copy(tokenizerConfig.Length > 0 ? tokenizerConfig : Path.Combine(tokenizer, "tokenizer_config.json"), Path.Combine(path, "tokenizer_config.json"));
        return path;
    }

    public void Dispose() => _dir.Dispose();
}
