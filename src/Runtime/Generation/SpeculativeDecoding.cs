namespace DeepSeek.Runtime.Generation;

/// <summary>Whether a <see cref="Generator"/> drafts tokens with the model's multi-token-prediction (MTP) module.</summary>
public enum SpeculativeDecoding
{
    /// <summary>
    /// MTP drafting when the model has an MTP module; a sequence whose drafts keep being rejected
    /// (acceptance under <see cref="Generator.AutoMinAcceptance"/> after <see cref="Generator.AutoProbeDrafts"/> drafts)
    /// falls back to plain decoding, since a rejected draft costs a forward row and an MTP pass for nothing.
    /// </summary>
    Auto,

    /// <summary>Plain decoding: one main-model token per step.</summary>
    None,

    /// <summary>Always draft with MTP module 0 (the model must have one); for measurements and tests.</summary>
    Mtp,
}
