using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Compute.Cpu;
using DeepSeek.Runtime.Generation;
using DeepSeek.Runtime.Hosting;
using DeepSeek.Runtime.Model;

namespace DeepSeek.Runtime.Tests.Generation;

/// <summary>Alone in its collection: the process-wide allocation counter must not see other tests' work.</summary>
[CollectionDefinition(nameof(DecodeAllocation), DisableParallelization = true)]
public sealed class DecodeAllocation;

/// <summary>
/// Issue 5: no managed allocation per decoded token once warm. Activations are planned per cache (ActivationScratch),
/// kernels run inline or on the persistent pool, and the generator's step buffers are made once per generation, so
/// after warm-up a greedy decode step allocates nothing, on the calling thread or anywhere else in the process.
/// </summary>
[Collection(nameof(DecodeAllocation))]
public sealed class DecodeAllocationTests
{
    private const int WarmUpTokens = 40;
    private const int MeasuredTokens = 100;

    [Theory]
    [InlineData(SpeculativeDecoding.None, 1)]
    [InlineData(SpeculativeDecoding.None, 2)]
    [InlineData(SpeculativeDecoding.Mtp, 2)]
    public void Greedy_decode_of_the_embedded_model_allocates_nothing_per_token(SpeculativeDecoding mode, int threads)
    {
        using var checkpoint = Checkpoint.Open(EmbeddedModel.GetPath());
        using var backend = new CpuBackend(threads);
        var model = new Transformer(backend, WeightMap.Bind(checkpoint), maxPositions: 512);
        var generator = new Generator(model, eosTokenIds: [], speculative: mode);
        var rng = new Random(7);
        var prompt = Enumerable.Range(0, 24).Select(_ => rng.Next(model.VocabSize)).ToArray();
        var request = new GenerationRequest(prompt, SamplingOptions.Greedy with { MaxTokens = WarmUpTokens + MeasuredTokens });

        // Steady state is what counts: tiered JIT may still swap code in during a first generation on a loaded machine
        // (and a speculative run meets a new row count when its first draft is accepted), so up to five generations
        // get the chance to show zero; an allocation that happens per token shows in every one of them.
        (long Thread, long Process) allocated = (-1, -1);
        for (var round = 0; round < 5 && allocated != (0, 0); round++)
        {
            long thread0 = 0, process0 = 0;
            var count = 0;
            foreach (var token in generator.Generate([request]))
            {
                if (++count != WarmUpTokens) continue;
                (thread0, process0) = (GC.GetAllocatedBytesForCurrentThread(), GC.GetTotalAllocatedBytes(precise: true));
            }
            allocated = (GC.GetAllocatedBytesForCurrentThread() - thread0, GC.GetTotalAllocatedBytes(precise: true) - process0);
            Assert.Equal(WarmUpTokens + MeasuredTokens, count);
        }
        Assert.Equal(0, allocated.Thread);
        // Process-wide (pool workers, the GC's and JIT's own threads included): nothing per token; a few bytes of
        // runtime bookkeeping over the whole window would not be per-token and stay under one byte per token.
        Assert.InRange(allocated.Process, 0, MeasuredTokens - 1);
    }
}
