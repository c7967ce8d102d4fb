using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Training;

namespace DeepSeek.Runtime.Tests.Distributed;

/// <summary>The model and data the parallel-training tests hold to the single-process trainer.</summary>
internal static class TinyV3Sft
{
    /// <summary>tiny-v3 (3 layers, MoE, MTP) in fp32 training form.</summary>
    public static ModelParameters<float> Load()
    {
        using var checkpoint = Checkpoint.Open(RepoPaths.TestData("models", "tiny-v3"));
        return ModelParameters<float>.Load(WeightMap.Bind(checkpoint));
    }

    /// <summary>
    /// <paramref name="count"/> random sequences of <paramref name="length"/> tokens whose loss masks start at i mod
    /// <paramref name="maskPeriod"/>, so the global-batch means differ from averages of per-rank means.
    /// </summary>
    public static List<TrainingSequence> Sequences(int vocab, int count, int length, int seed, int maskPeriod)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, count).Select(i =>
        {
            var tokens = Enumerable.Range(0, length).Select(_ => rng.Next(2, vocab)).ToArray();
            return new TrainingSequence(tokens, Enumerable.Range(0, length).Select(t => t >= i % maskPeriod).ToArray());
        }).ToList();
    }
}
