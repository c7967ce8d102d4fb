using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Tokenization;

namespace DeepSeek.Runtime.Hosting;

/// <summary>What a <see cref="IChatModel"/> serves.</summary>
/// <param name="Id">Model id reported to clients (by default the checkpoint folder's name).</param>
/// <param name="Config">The checkpoint's <c>config.json</c>.</param>
/// <param name="ContextLength">Most tokens (prompt + generated) one request may hold.</param>
/// <param name="Tokenizer">The checkpoint's tokenizer.</param>
/// <param name="ChatFormat">The chat format recognised from <c>tokenizer_config.json</c>.</param>
/// <param name="Backend">Compute backend name (<c>cpu</c>).</param>
public sealed record ChatModelInfo(string Id, ModelConfig Config, int ContextLength, BpeTokenizer Tokenizer, IChatFormat ChatFormat, string Backend);
