using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Compute.Cpu;
using DeepSeek.Runtime.Model;
using DeepSeek.Runtime.Tests.Compute;

namespace DeepSeek.Runtime.Tests.Model;

/// <summary>
/// The engine against our independent fp32 PyTorch reference (tests/reference): logits at every prompt position,
/// every block's output, the chosen experts and their weights, greedy decoding through the KV cache, and MTP logits,
/// for V3 (BF16 and 3-shard FP8 with partial blocks), V2-Lite, Qwen2 and Llama, in both MLA forms.
/// </summary>
public class GoldenLogitTests
{
    private const float LogitTolerance = 1e-4f;   // 10× tighter than the 1e-3 bound; observed errors ~1e-5
    private const float HiddenTolerance = 1e-4f;
    private const float WeightTolerance = 1e-4f;

    public static TheoryData<string, MlaMode> Cases() => new()
    {
        { "tiny-v3", MlaMode.Absorbed }, { "tiny-v3", MlaMode.Plain },
        { "tiny-v3-fp8", MlaMode.Absorbed }, { "tiny-v3-fp8", MlaMode.Plain },
        { "tiny-v2-lite", MlaMode.Absorbed }, { "tiny-v2-lite", MlaMode.Plain },
        { "tiny-qwen2", MlaMode.Absorbed },
        { "tiny-llama", MlaMode.Absorbed },
    };

    /// <summary>A reference model folder, its goldens, and our engine loaded from it.</summary>
    private sealed class Golden : IDisposable
    {
        private readonly CpuBackend _backend;

        /// <summary>
        /// <paramref name="native"/> false pins the fp32 path: the goldens are fp32 and these tolerances are fp32's. The
        /// native BF16 GEMM rounds activations to bf16 and has its own test (<see cref="Native_bf16_prefill_logits_stay_close"/>).
        /// </summary>
        public Golden(string name, MlaMode mode, bool native = false)
        {
            _backend = new CpuBackend { NativeKernels = native };
            Checkpoint = Checkpoint.Open(RepoPaths.TestData("models", name));
            File = SafeTensorsFile.Open(RepoPaths.TestData("models", name, "goldens.safetensors"));
            Model = new Transformer(_backend, WeightMap.Bind(Checkpoint), 64, mode);
        }

        public Checkpoint Checkpoint { get; }

        public Transformer Model { get; }

        public SafeTensorsFile File { get; }

        public bool Has(string name) => File.Contains(name);

        public float[] F(string name) => File.GetView<float>(name).Span.ToArray();

        public int[] I(string name) => File.GetView<int>(name).Span.ToArray();

        public void Dispose()
        {
            File.Dispose();
            Checkpoint.Dispose();
            _backend.Dispose();
        }
    }

    private static void Close(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, float tolerance, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        var worst = 0f;
        var at = -1;
        for (var i = 0; i < expected.Length; i++)
        {
            var d = Math.Abs(expected[i] - actual[i]);
            if (!(d <= worst)) { worst = d; at = i; }
        }
        Assert.True(worst <= tolerance, $"{what}: max |diff| {worst} at {at} (expected {(at >= 0 ? expected[at] : 0)}, got {(at >= 0 ? actual[at] : 0)})");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Prompt_logits_hidden_states_and_experts_match(string name, MlaMode mode)
    {
        using var g = new Golden(name, mode);
        var model = g.Model;
        var c = model.Config;
        for (var b = 0; b < 2; b++)
        {
            var prompt = g.I($"prompt{b}_ids");
            var cache = model.CreateCache(1, 64);
            var trace = new ForwardTrace();
            var logits = new float[prompt.Length * c.VocabSize];
            model.Forward(prompt, new int[prompt.Length], cache, Enumerable.Range(0, prompt.Length).ToArray(), logits, trace);

            Close(g.F($"logits_prompt{b}"), logits, LogitTolerance, $"{name} prompt {b} logits");
            for (var l = 0; l < c.NumHiddenLayers; l++)
            {
                Close(g.F($"hidden_prompt{b}_layer{l}"), trace.Hidden[l], HiddenTolerance, $"{name} prompt {b} block {l}");
                if (!c.IsMoeLayer(l)) continue;
                var (ids, weights) = trace.Experts[l];
                Assert.Equal(g.I($"experts_prompt{b}_layer{l}"), ids);
                Close(g.F($"expert_weights_prompt{b}_layer{l}"), weights, WeightTolerance, $"{name} prompt {b} layer {l} expert weights");
            }
        }
    }

    /// <summary>
    /// The same prompts with the native BF16 GEMM (prefill-sized matmuls on BF16 weights take bf16-rounded activations,
    /// relative error ≤ 2^-9 each): the logits stay within a first-order bound of the fp32 goldens (below).
    /// </summary>
    [NativeCpuTheory]
    [MemberData(nameof(Cases))]
    public void Native_bf16_prefill_logits_stay_close(string name, MlaMode mode)
    {
        using var g = new Golden(name, mode, native: true);
        var model = g.Model;
        var c = model.Config;
        for (var b = 0; b < 2; b++)
        {
            var prompt = g.I($"prompt{b}_ids");
            var cache = model.CreateCache(1, 64);
            var logits = new float[prompt.Length * c.VocabSize];
            model.Forward(prompt, new int[prompt.Length], cache, Enumerable.Range(0, prompt.Length).ToArray(), logits);
            var expected = g.F($"logits_prompt{b}");
            // To first order each matmul on the way adds at most 2^-9 of relative error (its bf16-rounded inputs), and
            // relative errors add: (8 matmuls a layer on the longest chain, attention and MLP, + the head) × 2^-9 × the
            // largest logit. Observed: 0.013–0.054 on logits up to 8.9, a fifth of this bound; a wrong kernel misses by O(1).
            var tolerance = (8 * c.NumHiddenLayers + 1) * MathF.ScaleB(1, -9) * expected.Max(Math.Abs);
            Close(expected, logits, tolerance, $"{name} prompt {b} logits (native bf16)");
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Greedy_decoding_through_the_cache_matches(string name, MlaMode mode)
    {
        using var g = new Golden(name, mode);
        var model = g.Model;
        var vocab = model.VocabSize;
        for (var b = 0; b < 2; b++)
        {
            var prompt = g.I($"prompt{b}_ids");
            var expectedIds = g.I($"greedy{b}_ids");
            var expectedLogits = g.F($"greedy{b}_logits");
            var cache = model.CreateCache(1, 64);
            var step = new float[vocab];
            model.Forward(prompt, new int[prompt.Length], cache, [prompt.Length - 1], step);
            var ids = new List<int>();
            for (var n = 0; n < expectedIds.Length; n++)
            {
                Close(expectedLogits.AsSpan(n * vocab, vocab), step, LogitTolerance, $"{name} prompt {b} greedy step {n}");
                var next = Argmax(step);
                ids.Add(next);
                model.Forward([next], [0], cache, [0], step);
            }
            Assert.Equal(expectedIds, ids);
        }
    }

    [Theory]
    [InlineData("tiny-v3", MlaMode.Absorbed)]
    [InlineData("tiny-v3", MlaMode.Plain)]
    [InlineData("tiny-v3-fp8", MlaMode.Absorbed)]
    [InlineData("tiny-v3-fp8", MlaMode.Plain)]
    public void Mtp_logits_match(string name, MlaMode mode)
    {
        using var g = new Golden(name, mode);
        var model = g.Model;
        var vocab = model.VocabSize;
        for (var b = 0; b < 2; b++)
        {
            var prompt = g.I($"prompt{b}_ids");
            var rows = Enumerable.Range(0, prompt.Length).ToArray();
            var cache = model.CreateCache(1, 64);
            var main = model.Forward(prompt, new int[prompt.Length], cache, [], []);
            var mtp = new float[prompt.Length * vocab];
            model.MtpForward(g.I($"mtp_input_ids_prompt{b}"), main, cache, rows, mtp);
            Close(g.F($"mtp_logits_prompt{b}"), mtp, LogitTolerance, $"{name} prompt {b} MTP logits");
        }
    }

    private static int Argmax(ReadOnlySpan<float> v)
    {
        var best = 0;
        for (var i = 1; i < v.Length; i++) if (v[i] > v[best]) best = i;
        return best;
    }
}
