namespace DeepSeek.Runtime.Model;

/// <summary>How multi-head latent attention is computed and cached (both give the same logits to fp32 rounding).</summary>
public enum MlaMode
{
    /// <summary>
    /// Serving form: <c>kv_b_proj</c>'s key part is folded into the query and its value part applied after the
    /// weighted sum, so the cache holds only normalised c_kv and rotated k_pe (576 values per token per layer on V3).
    /// </summary>
    Absorbed,

    /// <summary>Training/reference form: per-head keys and values are materialised and cached.</summary>
    Plain,
}
