using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Tensors;
using DeepSeek.Runtime.Training;

namespace DeepSeek.Runtime.Tests.Generation;

/// <summary>
/// Random checkpoints with an MTP layer for speculative-decoding tests. A plain random model's MTP head guesses the
/// main model's next-next token about 1/vocab of the time, which never exercises an accepted draft; the "agreeing"
/// variant makes drafts mostly right so both outcomes occur often.
/// </summary>
internal static class SpeculationCheckpoints
{
    /// <summary>The tiny V3 config of tests/TestData (hidden 64, 3 layers, MoE, one MTP layer, vocab 256).</summary>
    public static ModelConfig TinyConfig { get; } = ReadConfig();

    /// <summary>
    /// Large embeddings and head with small decoder blocks make the main model nearly a bigram model, next ≈ f(current);
    /// an MTP module whose <c>eh_proj</c> = [I | 0] passes Emb(t_{i+1}) through, so it predicts f(t_{i+1}) ≈ t_{i+2}. The
    /// blocks' <paramref name="blockStd"/> perturbs both, so some drafts are rejected: larger means fewer accepted.
    /// </summary>
    public static string WriteAgreeing(TempDir dir, string name, ModelConfig config, float blockStd, ulong seed = 5)
    {
        var raw = dir.File(name + "-raw");
        SyntheticCheckpoint.Write(config, raw, new SyntheticCheckpointOptions { Seed = seed, InitStd = blockStd, WeightDType = DType.F32 });
        ModelParameters<float> p;
        using (var checkpoint = Checkpoint.Open(raw)) p = ModelParameters<float>.Load(WeightMap.Bind(checkpoint));
        Scale(p.Embed, 1f / blockStd);             // std 1
        Scale(p.Head!, 0.3f / blockStd);           // logits of std ~2.4 over hidden 64: peaked but not one-hot
        p.Norm.AsSpan().Fill(1f);
        var h = config.HiddenSize;
        foreach (var m in p.Mtp)
        {
            m.ENorm.AsSpan().Fill(1f);
            m.HNorm.AsSpan().Fill(1f);
            m.HeadNorm.AsSpan().Fill(1f);
            // Real checkpoints store copies of the main embedding and head in the MTP layer; so do these.
            m.Embed?.AsSpan().Overwrite(p.Embed);
            m.Head?.AsSpan().Overwrite(p.Head!);
            m.EhProj.AsSpan().Clear();
            for (var j = 0; j < h; j++) m.EhProj[j * 2 * h + j] = 1f;   // [h, 2h]: output j = embedding half's input j
        }
        var path = dir.File(name);
        TrainedCheckpoint.Save(p, path, DType.F32);
        return path;
    }

    /// <summary>A plain random checkpoint (weights of std <paramref name="std"/>) of <paramref name="config"/>.</summary>
    public static string WriteRandom(TempDir dir, string name, ModelConfig config, float std, ulong seed = 3)
    {
        var path = dir.File(name);
        SyntheticCheckpoint.Write(config, path, new SyntheticCheckpointOptions { Seed = seed, InitStd = std, WeightDType = DType.F32 });
        return path;
    }

    private static void Overwrite(this Span<float> destination, float[] source) => source.CopyTo(destination);

    private static void Scale(float[] values, float factor)
    {
        for (var i = 0; i < values.Length; i++) values[i] *= factor;
    }

    private static ModelConfig ReadConfig()
    {
        using var checkpoint = Checkpoint.Open(RepoPaths.TestData("models", "tiny-v3"));
        return checkpoint.Config;
    }
}
