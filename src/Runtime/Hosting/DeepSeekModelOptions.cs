using DeepSeek.Runtime.Generation;

namespace DeepSeek.Runtime.Hosting;

/// <summary>
/// How to load and serve one model; bound from configuration (section <c>DeepSeek</c> by convention) or set in code.
/// Checked by <see cref="DeepSeekModelOptionsValidator"/>.
/// </summary>
public sealed class DeepSeekModelOptions
{
    /// <summary>
    /// Checkpoint folder (<c>config.json</c>, <c>*.safetensors</c>, <c>tokenizer.json</c>, <c>tokenizer_config.json</c>);
    /// null = the embedded model (<see cref="EmbeddedModel"/>).
    /// </summary>
    public string? ModelPath { get; set; }

    /// <summary>Model id reported to clients; null = the folder's name.</summary>
    public string? ModelId { get; set; }

    /// <summary>
    /// Compute backend: <c>cpu</c> (default) or <c>cuda</c> (an NVIDIA GPU through DeepSeek.Interop, which must be deployed
    /// beside the runtime; without an NVIDIA driver, host start-up fails with <c>CudaUnavailableException</c>).
    /// </summary>
    public string Backend { get; set; } = "cpu";

    /// <summary>CPU threads; 0 = all cores.</summary>
    public int Threads { get; set; }

    /// <summary>Most tokens (prompt + generated) per request; capped to the config's <c>max_position_embeddings</c>.</summary>
    public int ContextLength { get; set; } = 4096;

    /// <summary>
    /// Requests that generate at the same time, decoded together in one batch (the slots of one KV cache of
    /// <c>MaxConcurrentSequences × ContextLength</c> tokens); later ones queue.
    /// </summary>
    public int MaxConcurrentSequences { get; set; } = 4;

    /// <summary>
    /// Run a tiny generation while loading (<see cref="Generation.Generator.WarmUp"/>), so JIT compilation is paid by the
    /// load and not by the first request's time to first token (the embedded model: ~0.2 s). Default true.
    /// </summary>
    public bool WarmUp { get; set; } = true;

    /// <summary>
    /// MTP speculative decoding for models with an MTP layer; null (default) chooses: <see cref="SpeculativeDecoding.Auto"/>
    /// where it pays — on a GPU, and on the CPU for models whose decode streams at least
    /// <see cref="MtpMinimumDecodeBytes"/> of weights per token, where verifying a second row costs little next to that
    /// stream — and <see cref="SpeculativeDecoding.None"/> for smaller, cache-resident models on the CPU, whose steps are
    /// arithmetic, so a verified draft costs nearly a full row (the embedded model: MTP ran at 0.84–0.87× plain decoding
    /// on 2 Zen 4 cores with 99.96 % of its drafts accepted). Greedy output is the same either way.
    /// </summary>
    public SpeculativeDecoding? Speculative { get; set; }

    /// <summary>Decode weight bytes per token from which a CPU model drafts with MTP by default (64 MiB: past the caches).</summary>
    public const long MtpMinimumDecodeBytes = 64L << 20;

    /// <summary>Default sampling temperature (0 = greedy). DeepSeek recommend 0.6 for R1.</summary>
    public double Temperature { get; set; } = 0.6;

    /// <summary>Default nucleus-sampling threshold, in (0, 1].</summary>
    public double TopP { get; set; } = 0.95;

    /// <summary>Default output limit when a request sets none (capped to what is left of the context).</summary>
    public int MaxOutputTokens { get; set; } = 2048;
}
