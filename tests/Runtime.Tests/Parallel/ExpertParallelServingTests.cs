using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Compute.Cpu;
using DeepSeek.Runtime.Distributed;
using DeepSeek.Runtime.Generation;
using DeepSeek.Runtime.Hosting;
using DeepSeek.Runtime.Model;
using Microsoft.Extensions.AI;

namespace DeepSeek.Runtime.Tests.Distributed;

/// <summary>
/// Issue 10: serving a model with its routed experts over an expert-parallel group (rank 0 runs the model, the other ranks
/// only their experts) gives exactly what the single-process model gives — logits, greedy tokens (with MTP speculative
/// decoding too) and chat answers, also when requests run concurrently.
/// </summary>
public sealed class ExpertParallelServingTests
{
    private const int Positions = 256;

    private static int[] Prompt(int seed, int length, int vocab)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, length).Select(_ => rng.Next(vocab)).ToArray();
    }

    /// <summary>Runs <paramref name="lead"/> on rank 0 of an E-rank group whose other ranks serve their experts; returns its result.</summary>
    private static T Serve<T>(int ranks, WeightMap weights, Func<ExpertParallelServing, CpuBackend, T> lead)
    {
        var results = Ranks.Run(ranks, c =>
        {
            using var backend = new CpuBackend(threads: 1);
            using var serving = new ExpertParallelServing(c);
            if (!serving.IsLeader)
            {
                serving.ServeExperts(backend, weights);
                return default;
            }
            try
            {
                return lead(serving, backend);
            }
            finally
            {
                serving.Stop();
            }
        });
        return results[0]!;
    }

    [Fact]
    public void Prefill_and_mtp_logits_over_2_ranks_equal_the_single_process_model()
    {
        using var checkpoint = Checkpoint.Open(EmbeddedModel.GetPath());
        var weights = WeightMap.Bind(checkpoint);
        var prompt = Prompt(3, 19, weights.Config.VocabSize);
        var rows = Enumerable.Range(0, prompt.Length).ToArray();
        var next = prompt.Skip(1).Append(prompt[0]).ToArray();

        (float[] Main, float[] Mtp) Run(Transformer model)
        {
            var cache = model.CreateCache(1, Positions);
            var main = new float[rows.Length * model.VocabSize];
            var mtp = new float[rows.Length * model.VocabSize];
            var result = model.Forward(prompt, new int[prompt.Length], cache, rows, main);
            model.MtpForward(next, result, cache, rows, mtp);
            return (main, mtp);
        }

        using var backend = new CpuBackend(threads: 1);
        var expected = Run(new Transformer(backend, weights, Positions));
        var actual = Serve(2, weights, (serving, b) => Run(new Transformer(b, weights, Positions, MlaMode.Absorbed, serving.CreateLayer)));

        // The CPU kernels are batch- and split-invariant and the combine adds experts in id order, so "to fp32 rounding"
        // is in fact bit for bit here.
        Assert.Equal(expected.Main, actual.Main);
        Assert.Equal(expected.Mtp, actual.Mtp);
        Assert.Contains(expected.Mtp, v => Math.Abs(v) > 1e-2);
    }

    [Theory]
    [InlineData(SpeculativeDecoding.None)]
    [InlineData(SpeculativeDecoding.Mtp)]
    public void Greedy_generation_over_2_ranks_gives_the_single_process_tokens(SpeculativeDecoding mode)
    {
        using var checkpoint = Checkpoint.Open(EmbeddedModel.GetPath());
        var weights = WeightMap.Bind(checkpoint);
        var prompt = Prompt(11, 24, weights.Config.VocabSize);
        var options = SamplingOptions.Greedy with { MaxTokens = 80 };

        GenerationResult Generate(Transformer model) => new Generator(model, eosTokenIds: [], speculative: mode).Complete(prompt, options);

        using var backend = new CpuBackend(threads: 1);
        var expected = Generate(new Transformer(backend, weights, Positions));
        var actual = Serve(2, weights, (serving, b) => Generate(new Transformer(b, weights, Positions, MlaMode.Absorbed, serving.CreateLayer)));

        Assert.Equal(80, expected.Tokens.Count);
        Assert.Equal(expected.Tokens, actual.Tokens);
        Assert.Equal(expected.Speculation, actual.Speculation);
        if (mode == SpeculativeDecoding.Mtp) Assert.True(actual.Speculation.Drafted > 0, "the MTP block never drafted; its MoE layer was not exercised");
    }

    [Fact]
    public async Task Concurrent_chat_requests_on_the_expert_parallel_model_get_the_single_process_answers()
    {
        var path = EmbeddedModel.GetPath();
        var options = new DeepSeekModelOptions { Temperature = 0, ContextLength = Positions, Threads = 1, MaxConcurrentSequences = 3 };
        var questions = new[] { "What is 12 + 7?", "What is 3 * 9?", "What is 40 - 18?" };
        var chat = new ChatOptions { Temperature = 0, MaxOutputTokens = 40 };

        string[] expected;
        using (var single = DeepSeekChatModel.Load(path, options))
        using (var client = new DeepSeekChatClient(single))
        {
            expected = new string[questions.Length];
            for (var i = 0; i < questions.Length; i++) expected[i] = (await client.GetResponseAsync(questions[i], chat)).Text;
        }

        using var checkpoint = Checkpoint.Open(path);
        var weights = WeightMap.Bind(checkpoint);
        var actual = Serve(2, weights, (serving, _) =>
        {
            using var model = DeepSeekChatModel.LoadExpertParallel(path, serving, options);
            using var client = new DeepSeekChatClient(model);
            // All at once: the requests' MoE calls interleave on rank 0 and must still each see only their own tokens.
            var answers = questions.Select(q => Task.Run(() => client.GetResponseAsync(q, chat))).ToArray();
            return Task.WhenAll(answers).GetAwaiter().GetResult().Select(r => r.Text).ToArray();
        });

        Assert.Equal(expected, actual);
        Assert.All(expected, a => Assert.False(string.IsNullOrWhiteSpace(a)));
    }

    [Fact]
    public void Roles_are_checked_and_a_failing_leader_ends_the_followers()
    {
        using var checkpoint = Checkpoint.Open(EmbeddedModel.GetPath());
        var weights = WeightMap.Bind(checkpoint);
        var moe = weights.Blocks.First(b => b.Moe is not null);
        var failure = Assert.Throws<RankFailedException>(() => Ranks.Run(2, c =>
        {
            using var backend = new CpuBackend(threads: 1);
            var serving = new ExpertParallelServing(c);
            if (serving.IsLeader)
            {
                Assert.Throws<InvalidOperationException>(() => serving.ServeExperts(backend, weights));
                throw new InvalidOperationException("rank 0 fails before its first MoE call");
            }
            Assert.Throws<InvalidOperationException>(() => serving.CreateLayer(backend, weights.Config, moe.Moe!, moe.Layer));
            Assert.Throws<ArgumentException>(() => DeepSeekChatModel.LoadExpertParallel(EmbeddedModel.GetPath(), serving));
            serving.ServeExperts(backend, weights);   // must end with the group's failure, not wait forever
        }));
        Assert.Equal(0, failure.FailedRank);
    }

    [Fact]
    public void A_follower_with_another_checkpoint_fails_with_a_clear_error_and_the_leader_does_not_hang()
    {
        using var embedded = Checkpoint.Open(EmbeddedModel.GetPath());
        using var other = Checkpoint.Open(RepoPaths.TestData("models", "tiny-v3"));
        var (leaderWeights, followerWeights) = (WeightMap.Bind(embedded), WeightMap.Bind(other));
        // Same shapes (hidden size, experts, layers), different weights: only the router fingerprint can tell them apart.
        Assert.Equal(leaderWeights.Config.HiddenSize, followerWeights.Config.HiddenSize);
        var prompt = Prompt(5, 8, leaderWeights.Config.VocabSize);

        var failure = Assert.Throws<RankFailedException>(() => Ranks.Run(2, c =>
        {
            using var backend = new CpuBackend(threads: 1);
            var serving = new ExpertParallelServing(c);
            if (!serving.IsLeader)
            {
                serving.ServeExperts(backend, followerWeights);
                return;
            }
            var model = new Transformer(backend, leaderWeights, Positions, MlaMode.Absorbed, serving.CreateLayer);
            // The follower rejects the first command; the leader's collectives must then fail instead of waiting for it.
            Assert.ThrowsAny<CommunicatorException>(() => new Generator(model, eosTokenIds: []).Complete(prompt, SamplingOptions.Greedy with { MaxTokens = 4 }));
        }));
        Assert.Equal(1, failure.FailedRank);
        var cause = Assert.IsType<CheckpointFormatException>(failure.InnerException);
        Assert.Contains("every rank must load the same checkpoint", cause.Message);
    }
}
