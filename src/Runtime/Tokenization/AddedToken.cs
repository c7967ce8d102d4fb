namespace DeepSeek.Runtime.Tokenization;

/// <summary>
/// An entry of <c>tokenizer.json</c>'s <c>added_tokens</c>: text that is matched before pre-tokenization and becomes
/// one id. <see cref="Special"/> tokens are dropped by <c>Decode(…, skipSpecialTokens: true)</c>.
/// </summary>
/// <param name="Id">The token id.</param>
/// <param name="Content">The exact text of the token.</param>
/// <param name="Special">Whether it is a control token (BOS, EOS, chat-role markers, …).</param>
/// <param name="SingleWord">Matched only when not inside a word.</param>
/// <param name="LStrip">White space before the token is absorbed into it.</param>
/// <param name="RStrip">White space after the token is absorbed into it.</param>
/// <param name="Normalized">Matched against the normalized text rather than the raw input.</param>
public sealed record AddedToken(int Id, string Content, bool Special, bool SingleWord, bool LStrip, bool RStrip, bool Normalized);
