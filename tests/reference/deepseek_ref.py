"""Independent fp32 PyTorch reference for DeepSeek-V2/V3 (MLA + MoE + MTP) and dense Qwen2/Llama.

Written from /work/shared/MODEL.md. Everything runs on plain float tensors (float32 by default, float64 for the
cross-check); weights are given as a dict of already dequantised float tensors (BF16 values widened exactly,
FP8 codes x block scale_inv). Sequences are unbatched: x is [T, hidden], positions are start_pos .. start_pos+T-1.

Conventions (the C# engine must match these):
  * RMSNorm: x * rsqrt(mean(x^2) + eps) * w, in the compute dtype.
  * DeepSeek RoPE rotates INTERLEAVED pairs (x[2i], x[2i+1]) with frequency i, on the last qk_rope_head_dim dims of
    each q head and on the shared k_pe; the rotated values stay in their interleaved slots.
  * Qwen2/Llama RoPE is HF's rotate_half: pairs (x[i], x[i + d/2]) with frequency i (first half / second half).
  * YaRN (rope_scaling.type == yarn) changes the frequencies for every position (not only past
    original_max_position_embeddings) and multiplies cos/sin by m(mscale)/m(mscale_all_dim).
  * Linear weights are [out, in]; y = x @ W^T (+ b).
"""
import math

import torch
import torch.nn.functional as F


class Config:
    """The subset of a HF config.json the reference needs, with the same defaults as our C# ModelConfig."""

    def __init__(self, d):
        self.raw = d
        self.model_type = d["model_type"]
        self.is_mla = self.model_type in ("deepseek_v2", "deepseek_v3")
        v3 = self.model_type == "deepseek_v3"
        self.vocab_size = d["vocab_size"]
        self.hidden_size = d["hidden_size"]
        self.intermediate_size = d["intermediate_size"]
        self.num_hidden_layers = d["num_hidden_layers"]
        self.num_attention_heads = d["num_attention_heads"]
        self.num_key_value_heads = d.get("num_key_value_heads") or self.num_attention_heads
        self.rms_norm_eps = d.get("rms_norm_eps", 1e-6)
        self.rope_theta = d.get("rope_theta", 10000.0)
        self.rope_scaling = d.get("rope_scaling")
        if self.rope_scaling is not None and (self.rope_scaling.get("rope_type") or self.rope_scaling.get("type")) == "default":
            self.rope_scaling = None
        self.tie_word_embeddings = d.get("tie_word_embeddings", False)
        self.attention_bias = d.get("attention_bias", self.model_type == "qwen2")
        if self.is_mla:
            self.q_lora_rank = d.get("q_lora_rank")
            self.kv_lora_rank = d["kv_lora_rank"]
            self.qk_nope_head_dim = d["qk_nope_head_dim"]
            self.qk_rope_head_dim = d["qk_rope_head_dim"]
            self.v_head_dim = d["v_head_dim"]
            self.n_routed_experts = d.get("n_routed_experts") or 0
            self.n_shared_experts = d.get("n_shared_experts") or 0
            self.moe_intermediate_size = d.get("moe_intermediate_size", 0)
            self.num_experts_per_tok = d.get("num_experts_per_tok") or 0
            self.first_k_dense_replace = d.get("first_k_dense_replace", 0)
            self.moe_layer_freq = d.get("moe_layer_freq", 1)
            self.n_group = d.get("n_group") or 1
            self.topk_group = d.get("topk_group") or 1
            self.topk_method = d.get("topk_method") or ("noaux_tc" if v3 else "greedy")
            if self.topk_method == "gready":
                self.topk_method = "greedy"
            self.scoring_func = d.get("scoring_func") or ("sigmoid" if v3 else "softmax")
            self.norm_topk_prob = d.get("norm_topk_prob", v3)
            self.routed_scaling_factor = d.get("routed_scaling_factor", 1.0)
            self.num_nextn_predict_layers = d.get("num_nextn_predict_layers", 0)
            self.head_dim = self.qk_nope_head_dim + self.qk_rope_head_dim
        else:
            self.head_dim = d.get("head_dim") or self.hidden_size // self.num_attention_heads
            self.n_routed_experts = 0
            self.num_nextn_predict_layers = 0

    def is_moe_layer(self, layer):
        return (self.is_mla and self.n_routed_experts > 0 and layer >= self.first_k_dense_replace
                and layer % self.moe_layer_freq == 0)

    @property
    def rope_dim(self):
        return self.qk_rope_head_dim if self.is_mla else self.head_dim


# ----------------------------------------------------------------------------------------------- RoPE / YaRN
def yarn_get_mscale(factor, mscale):
    """m(s) = 0.1*s*ln(factor) + 1, or 1 when factor <= 1."""
    return 1.0 if factor <= 1.0 else 0.1 * mscale * math.log(factor) + 1.0


def rope_inv_freq(cfg):
    """inv_freq [d/2] in float64 and the cos/sin magnitude factor.

    Plain: theta^(-2i/d). YaRN: blend of extrapolated theta^(-2i/d) and interpolated theta^(-2i/d)/factor with
    ramp_i = clamp((i - low)/(high - low), 0, 1), low = max(floor(corr(beta_fast)), 0),
    high = min(ceil(corr(beta_slow)), d - 1), corr(r) = d*ln(orig/(2*pi*r)) / (2*ln(theta)), high==low -> high+0.001;
    inv_freq = interp*ramp + extra*(1-ramp). cos/sin are scaled by m(mscale)/m(mscale_all_dim).
    """
    d = cfg.rope_dim
    base = float(cfg.rope_theta)
    i = torch.arange(0, d // 2, dtype=torch.float64)
    extra = 1.0 / base ** (2.0 * i / d)
    rs = cfg.rope_scaling
    if rs is None:
        return extra, 1.0
    kind = rs.get("rope_type") or rs.get("type")
    if kind != "yarn":
        raise NotImplementedError(f"rope_scaling type {kind} is not in the reference")
    factor = float(rs["factor"])
    orig = float(rs["original_max_position_embeddings"])
    beta_fast = float(rs.get("beta_fast", 32.0))
    beta_slow = float(rs.get("beta_slow", 1.0))

    def corr(r):
        return d * math.log(orig / (2.0 * math.pi * r)) / (2.0 * math.log(base))

    low = max(math.floor(corr(beta_fast)), 0)
    high = min(math.ceil(corr(beta_slow)), d - 1)
    hi = high + 0.001 if high == low else high
    ramp = ((i - low) / (hi - low)).clamp(0.0, 1.0)
    mask = 1.0 - ramp                       # 1 = keep the extrapolated (original) frequency
    inv_freq = (extra / factor) * (1.0 - mask) + extra * mask
    scale = yarn_get_mscale(factor, float(rs.get("mscale", 1.0))) / yarn_get_mscale(factor, float(rs.get("mscale_all_dim", 0.0)))
    return inv_freq, scale


def rope_cos_sin(cfg, start_pos, length, dtype):
    """cos, sin [length, d/2] for positions start_pos..start_pos+length-1 (angle in float64, then cast)."""
    inv_freq, scale = rope_inv_freq(cfg)
    t = torch.arange(start_pos, start_pos + length, dtype=torch.float64)
    ang = torch.outer(t, inv_freq)
    return (torch.cos(ang) * scale).to(dtype), (torch.sin(ang) * scale).to(dtype)


def rope_interleaved(x, cos, sin):
    """DeepSeek: rotate pairs (x[2i], x[2i+1]) by angle_i; x [..., T, (H,) d], cos/sin broadcastable to x[..., ::2]."""
    x0, x1 = x[..., 0::2], x[..., 1::2]
    y0 = x0 * cos - x1 * sin
    y1 = x0 * sin + x1 * cos
    return torch.stack((y0, y1), dim=-1).flatten(-2)


def rope_rotate_half(x, cos, sin):
    """HF Llama/Qwen2: rotate pairs (x[i], x[i + d/2]) by angle_i."""
    h = x.shape[-1] // 2
    x0, x1 = x[..., :h], x[..., h:]
    return torch.cat((x0 * cos - x1 * sin, x1 * cos + x0 * sin), dim=-1)


def softmax_scale(cfg):
    """MLA: (nope+rope)^-1/2 x m(mscale_all_dim)^2 when yarn sets mscale_all_dim; dense: head_dim^-1/2."""
    if not cfg.is_mla:
        return cfg.head_dim ** -0.5
    s = cfg.head_dim ** -0.5
    rs = cfg.rope_scaling
    if rs is not None and (rs.get("rope_type") or rs.get("type")) == "yarn" and rs.get("mscale_all_dim"):
        m = yarn_get_mscale(float(rs["factor"]), float(rs["mscale_all_dim"]))
        s *= m * m
    return s


# ----------------------------------------------------------------------------------------------- building blocks
def rms_norm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def linear(x, w, b=None):
    y = x @ w.t()
    return y if b is None else y + b


def swiglu(x, W, p):
    return linear(F.silu(linear(x, W[p + "gate_proj.weight"])) * linear(x, W[p + "up_proj.weight"]), W[p + "down_proj.weight"])


class RouterStats:
    """Near-tie margins and bookkeeping over every routing decision made (prompts, decode steps, MTP)."""

    def __init__(self):
        self.min_expert_gap = math.inf       # k-th minus (k+1)-th choice score among the kept groups
        self.min_group_gap = math.inf        # topk_group-th minus next group score
        self.min_kth_choice = math.inf       # smallest choice score actually chosen (masked fill value safety)
        self.tokens = 0
        self.changed_by_bias = 0             # tokens whose expert set differs from routing on unbiased scores


class Model:
    def __init__(self, cfg, weights, dtype=torch.float32):
        self.cfg = cfg
        self.dtype = dtype
        self.W = {k: v.to(dtype) for k, v in weights.items()}
        self.stats = RouterStats()

    # ---------------------------------------------------------------- MoE
    def route(self, p, x):
        """-> (ids [T,k] sorted ascending, weights [T,k] in the same order)."""
        c, W = self.cfg, self.W
        logits = linear(x, W[p + "mlp.gate.weight"])
        scores = logits.softmax(-1) if c.scoring_func == "softmax" else logits.sigmoid()
        bias = W.get(p + "mlp.gate.e_score_correction_bias") if c.topk_method == "noaux_tc" else None

        def choose(choice, record):
            T, E = choice.shape
            if c.topk_method in ("group_limited_greedy", "noaux_tc"):
                g = choice.view(T, c.n_group, E // c.n_group)
                gs = g.max(-1).values if c.topk_method == "group_limited_greedy" else g.topk(2, -1).values.sum(-1)
                gsort = gs.sort(-1, descending=True)
                if record and c.topk_group < c.n_group:
                    gap = (gsort.values[:, c.topk_group - 1] - gsort.values[:, c.topk_group]).min().item()
                    self.stats.min_group_gap = min(self.stats.min_group_gap, gap)
                keep = torch.zeros(T, c.n_group, dtype=torch.bool)
                keep.scatter_(1, gsort.indices[:, :c.topk_group], True)
                keep = keep.repeat_interleave(E // c.n_group, dim=1)
                choice = choice.masked_fill(~keep, -math.inf)
            srt = choice.sort(-1, descending=True)
            k = c.num_experts_per_tok
            if record:
                if k < E:
                    gap = (srt.values[:, k - 1] - srt.values[:, k]).min().item()
                    self.stats.min_expert_gap = min(self.stats.min_expert_gap, gap)
                self.stats.min_kth_choice = min(self.stats.min_kth_choice, srt.values[:, k - 1].min().item())
            return srt.indices[:, :k]

        idx = choose(scores + bias if bias is not None else scores, True)
        if bias is not None:
            plain = choose(scores, False)
            self.stats.changed_by_bias += int((plain.sort(-1).values != idx.sort(-1).values).any(-1).sum())
        self.stats.tokens += x.shape[0]
        w = scores.gather(1, idx)                       # unbiased scores of the chosen experts
        if c.norm_topk_prob:
            w = w / w.sum(-1, keepdim=True)
        w = w * c.routed_scaling_factor
        order = idx.argsort(-1)
        return idx.gather(1, order), w.gather(1, order)

    def moe(self, p, x, rec):
        ids, w = self.route(p, x)
        y = torch.zeros_like(x)
        for j in range(ids.shape[1]):
            for e in ids[:, j].unique().tolist():
                rows = (ids[:, j] == e).nonzero().flatten()
                y[rows] += w[rows, j:j + 1] * swiglu(x[rows], self.W, f"{p}mlp.experts.{e}.")
        if self.cfg.n_shared_experts > 0:
            y = y + swiglu(x, self.W, p + "mlp.shared_experts.")
        if rec is not None:
            rec["experts"], rec["expert_weights"] = ids, w
        return y

    # ---------------------------------------------------------------- attention
    def mla(self, p, x, start_pos, cache, absorbed):
        """Multi-head latent attention. cache (dict) holds the normalised c_kv [S, kv_lora] and rotated k_pe [S, rope]
        of earlier positions and is extended in place. absorbed=False: kv_b_proj expands c_kv into per-head k_nope
        and v. absorbed=True: W_UK folded into q_nope, W_UV applied after attention; same math, other order."""
        c, W = self.cfg, self.W
        T, H = x.shape[0], c.num_attention_heads
        nope, rope, vd, r = c.qk_nope_head_dim, c.qk_rope_head_dim, c.v_head_dim, c.kv_lora_rank
        if c.q_lora_rank is None:
            q = linear(x, W[p + "self_attn.q_proj.weight"])
        else:
            q = linear(rms_norm(linear(x, W[p + "self_attn.q_a_proj.weight"]), W[p + "self_attn.q_a_layernorm.weight"], c.rms_norm_eps),
                       W[p + "self_attn.q_b_proj.weight"])
        q = q.view(T, H, nope + rope)
        q_nope, q_pe = q[..., :nope], q[..., nope:]
        kv = linear(x, W[p + "self_attn.kv_a_proj_with_mqa.weight"])
        c_kv = rms_norm(kv[:, :r], W[p + "self_attn.kv_a_layernorm.weight"], c.rms_norm_eps)
        k_pe = kv[:, r:]
        cos, sin = rope_cos_sin(c, start_pos, T, self.dtype)
        q_pe = rope_interleaved(q_pe, cos[:, None, :], sin[:, None, :])
        k_pe = rope_interleaved(k_pe, cos, sin)
        assert cache.get("c_kv") is None or cache["c_kv"].shape[0] == start_pos
        C = c_kv if cache.get("c_kv") is None else torch.cat((cache["c_kv"], c_kv))
        K = k_pe if cache.get("k_pe") is None else torch.cat((cache["k_pe"], k_pe))
        cache["c_kv"], cache["k_pe"] = C, K
        S = C.shape[0]
        wkvb = W[p + "self_attn.kv_b_proj.weight"]                 # [H*(nope+v), r]
        if not absorbed:
            kvb = linear(C, wkvb).view(S, H, nope + vd)
            k_nope, v = kvb[..., :nope], kvb[..., nope:]
            s = torch.einsum("thd,shd->hts", q_nope, k_nope) + torch.einsum("thd,sd->hts", q_pe, K)
        else:
            w3 = wkvb.view(H, nope + vd, r)
            w_uk, w_uv = w3[:, :nope, :], w3[:, nope:, :]
            q_lat = torch.einsum("thd,hdc->thc", q_nope, w_uk)
            s = torch.einsum("thc,sc->hts", q_lat, C) + torch.einsum("thd,sd->hts", q_pe, K)
        s = s * softmax_scale(c)
        qpos = torch.arange(start_pos, start_pos + T)[:, None]
        kpos = torch.arange(S)[None, :]
        s = s.masked_fill(kpos > qpos, -math.inf)
        a = s.softmax(-1)
        if not absorbed:
            o = torch.einsum("hts,shd->thd", a, v)
        else:
            o = torch.einsum("thc,hdc->thd", torch.einsum("hts,sc->thc", a, C), w_uv)
        return linear(o.reshape(T, H * vd), W[p + "self_attn.o_proj.weight"])

    def gqa(self, p, x, start_pos, cache):
        """Qwen2/Llama attention with grouped K/V heads; cache holds rotated k and v [S, KV, D]."""
        c, W = self.cfg, self.W
        T, H, KV, D = x.shape[0], c.num_attention_heads, c.num_key_value_heads, c.head_dim
        bias = c.attention_bias or c.model_type == "qwen2"
        q = linear(x, W[p + "self_attn.q_proj.weight"], W.get(p + "self_attn.q_proj.bias") if bias else None).view(T, H, D)
        k = linear(x, W[p + "self_attn.k_proj.weight"], W.get(p + "self_attn.k_proj.bias") if bias else None).view(T, KV, D)
        v = linear(x, W[p + "self_attn.v_proj.weight"], W.get(p + "self_attn.v_proj.bias") if bias else None).view(T, KV, D)
        cos, sin = rope_cos_sin(c, start_pos, T, self.dtype)
        q = rope_rotate_half(q, cos[:, None, :], sin[:, None, :])
        k = rope_rotate_half(k, cos[:, None, :], sin[:, None, :])
        K = k if cache.get("k") is None else torch.cat((cache["k"], k))
        V = v if cache.get("v") is None else torch.cat((cache["v"], v))
        cache["k"], cache["v"] = K, V
        S = K.shape[0]
        rep = H // KV                                   # query head h uses K/V head h // rep
        Kh, Vh = K.repeat_interleave(rep, dim=1), V.repeat_interleave(rep, dim=1)
        s = torch.einsum("thd,shd->hts", q, Kh) * softmax_scale(c)
        qpos = torch.arange(start_pos, start_pos + T)[:, None]
        s = s.masked_fill(torch.arange(S)[None, :] > qpos, -math.inf)
        o = torch.einsum("hts,shd->thd", s.softmax(-1), Vh).reshape(T, H * D)
        ob = W.get(p + "self_attn.o_proj.bias") if (c.attention_bias and c.model_type == "llama") else None
        return linear(o, W[p + "self_attn.o_proj.weight"], ob)

    # ---------------------------------------------------------------- block / model
    def block(self, layer, x, start_pos, cache, absorbed, rec):
        c, W = self.cfg, self.W
        p = f"model.layers.{layer}."
        h = rms_norm(x, W[p + "input_layernorm.weight"], c.rms_norm_eps)
        att = self.mla(p, h, start_pos, cache, absorbed) if c.is_mla else self.gqa(p, h, start_pos, cache)
        x = x + att
        h = rms_norm(x, W[p + "post_attention_layernorm.weight"], c.rms_norm_eps)
        x = x + (self.moe(p, h, rec) if c.is_moe_layer(layer) else swiglu(h, W, p + "mlp."))
        if rec is not None:
            rec["hidden"] = x
        return x

    def head_weight(self):
        return self.W["model.embed_tokens.weight"] if self.cfg.tie_word_embeddings else self.W["lm_head.weight"]

    def forward(self, ids, start_pos=0, caches=None, absorbed=False, recs=None):
        """ids [T] -> (logits [T, vocab], final hidden after model.norm [T, hidden]).
        caches: list (one dict per main layer) or None for a fresh pass; recs: list of dicts filled per layer."""
        c = self.cfg
        if caches is None:
            caches = [dict() for _ in range(c.num_hidden_layers)]
        x = self.W["model.embed_tokens.weight"][ids]
        for l in range(c.num_hidden_layers):
            x = self.block(l, x, start_pos, caches[l], absorbed, None if recs is None else recs[l])
        hf = rms_norm(x, self.W["model.norm.weight"], c.rms_norm_eps)
        return linear(hf, self.head_weight()), hf

    def mtp(self, next_ids, h_final, start_pos=0, cache=None, absorbed=False, rec=None):
        """MTP module (layer num_hidden_layers). Position i gets t_{i+1} = next_ids[i] and the main model's final
        hidden h_i (after model.norm): h' = eh_proj(cat(enorm(emb(t_{i+1})), hnorm(h_i))), embedding FIRST; then
        the decoder block (causal, same positions), shared_head.norm, shared_head.head -> logits for t_{i+2}."""
        c, W = self.cfg, self.W
        L = c.num_hidden_layers
        p = f"model.layers.{L}."
        emb = W.get(p + "embed_tokens.weight", W["model.embed_tokens.weight"])
        e = rms_norm(emb[next_ids], W[p + "enorm.weight"], c.rms_norm_eps)
        h = rms_norm(h_final, W[p + "hnorm.weight"], c.rms_norm_eps)
        x = linear(torch.cat((e, h), dim=-1), W[p + "eh_proj.weight"])
        if rec is not None:
            rec["input"] = x
        x = self.block(L, x, start_pos, cache if cache is not None else dict(), absorbed, rec)
        head = W.get(p + "shared_head.head.weight", self.head_weight())
        return linear(rms_norm(x, W[p + "shared_head.norm.weight"], c.rms_norm_eps), head)
