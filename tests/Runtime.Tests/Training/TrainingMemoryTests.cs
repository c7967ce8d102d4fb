using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Tests.Checkpoints;
using DeepSeek.Runtime.Training;
using DeepSeek.Runtime.Training.Lora;
using DeepSeek.Runtime.Training.Sft;

namespace DeepSeek.Runtime.Tests.Training;

/// <summary>
/// A few hundred training steps neither leak nor allocate beyond a stated bound. Every activation and activation gradient
/// of a sequence is planned once in arenas when the trainer is built, so after warm-up a step allocates only a small,
/// fixed amount of bookkeeping (the progress record, list growth amortised), whatever the number of tokens. The bound:
/// at most 1 KiB allocated per step (measured about 0.1 KiB; full fine-tune on sequences of 16 and of 32 tokens, and LoRA with dropout), and the
/// live heap after a full collection does not grow from step 50 to step 250.
/// </summary>
[Collection(nameof(ResidentMemory))]
public class TrainingMemoryTests
{
    private const int Warmup = 50, Measured = 200, Batch = 2;
    private const double BoundPerStep = 1024;

    [Theory]
    [InlineData(16, false)]
    [InlineData(32, false)]
    [InlineData(16, true)]
    public void Two_hundred_and_fifty_steps_do_not_leak_and_allocate_under_1_KiB_per_step_whatever_the_tokens(int length, bool lora)
    {
        using var checkpoint = Checkpoint.Open(RepoPaths.TestData("models", "tiny-v3"));
        var map = WeightMap.Bind(checkpoint);
        var parameters = ModelParameters<float>.Load(map);
        var rng = new Random(3);
        var data = Enumerable.Range(0, 4).Select(_ => new TrainingSequence(Enumerable.Range(0, length).Select(_ => rng.Next(2, 256)).ToArray())).ToList();

        // Measured inside one run, from the progress callback (same thread): the trainer's own state (gradients,
        // AdamW moments, arenas) already exists at step 50, so any growth after it is per-step garbage kept alive.
        long liveBefore = 0, liveAfter = 0, allocatedBefore = 0, allocatedAfter = 0;
        var trainer = new SftTrainer(parameters, length, new SftOptions { Steps = Warmup + Measured, BatchSize = Batch, LearningRate = 1e-3 });
        if (lora) trainer.WithLora(LoraAdapter.Create(parameters.Config, new LoraOptions { Rank = 4, Dropout = 0.1 }), map);
        trainer.Train(data, new At(step =>
        {
            if (step == Warmup) (liveBefore, allocatedBefore) = (GC.GetTotalMemory(forceFullCollection: true), GC.GetAllocatedBytesForCurrentThread());
            if (step == Warmup + Measured) (allocatedAfter, liveAfter) = (GC.GetAllocatedBytesForCurrentThread(), GC.GetTotalMemory(forceFullCollection: true));
        }));
        var perStep = (allocatedAfter - allocatedBefore) / (double)Measured;

        Assert.True(perStep <= BoundPerStep, $"{perStep:F0} bytes allocated per step ({perStep / (Batch * length):F1} per token)");
        Assert.True(liveAfter - liveBefore < 1 << 20, $"live heap grew by {(liveAfter - liveBefore) >> 10} KiB over {Measured} steps");
    }

    private sealed class At(Action<int> onStep) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => onStep(value.Step);
    }
}
