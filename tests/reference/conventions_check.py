"""Second, differently-written derivations of the conventions deepseek_ref.py implements; make_goldens.py runs these
before generating anything. Each check restates a MODEL.md rule in another form (complex numbers, scalar loops,
hand-computed YaRN constants) and asserts the reference agrees."""
import math

import torch

from deepseek_ref import (Config, Model, rope_cos_sin, rope_interleaved, rope_inv_freq, rope_rotate_half,
                          softmax_scale, yarn_get_mscale)


def check_rope():
    g = torch.Generator().manual_seed(0)
    d, T = 8, 5
    x = torch.randn(T, d, generator=g, dtype=torch.float64)
    ang = torch.randn(T, d // 2, generator=g, dtype=torch.float64)
    # DeepSeek: pairs (x[2i], x[2i+1]) as complex numbers times e^{i*angle_i}
    z = torch.view_as_complex(x.view(T, d // 2, 2).contiguous()) * torch.polar(torch.ones_like(ang), ang)
    want = torch.view_as_real(z).reshape(T, d)
    assert torch.allclose(rope_interleaved(x, ang.cos(), ang.sin()), want)
    # HF Llama/Qwen2: q*cos + rotate_half(q)*sin with cos = cat(freqs, freqs), rotate_half = cat(-x2, x1)
    cos2, sin2 = torch.cat((ang.cos(), ang.cos()), -1), torch.cat((ang.sin(), ang.sin()), -1)
    rh = torch.cat((-x[:, d // 2:], x[:, :d // 2]), -1)
    assert torch.allclose(rope_rotate_half(x, ang.cos(), ang.sin()), x * cos2 + rh * sin2)
    # HF modeling_deepseek de-interleaves (view(d/2,2).transpose) and then uses rotate_half: the rotated values land
    # in permuted slots, but q.k dot products equal the interleaved form's (the same permutation hits q and k).
    perm = lambda v: v.view(T, d // 2, 2).transpose(-1, -2).reshape(T, d)
    y = torch.randn(T, d, generator=g, dtype=torch.float64)
    hf_x, hf_y = rope_rotate_half(perm(x), ang.cos(), ang.sin()), rope_rotate_half(perm(y), ang.cos(), ang.sin())
    assert torch.allclose(hf_x @ hf_y.t(), rope_interleaved(x, ang.cos(), ang.sin()) @ rope_interleaved(y, ang.cos(), ang.sin()).t())
    assert torch.allclose(hf_x, perm(rope_interleaved(x, ang.cos(), ang.sin())))


def check_yarn():
    base = {"model_type": "deepseek_v3", "vocab_size": 8, "hidden_size": 8, "intermediate_size": 8, "num_hidden_layers": 1,
            "num_attention_heads": 1, "kv_lora_rank": 4, "qk_nope_head_dim": 4, "qk_rope_head_dim": 8, "v_head_dim": 4}
    # d=8, theta=1e4, orig=16: corr(32) = 8 ln(16/(64 pi))/(2 ln 1e4) = -1.10 -> low 0; corr(1) = 0.406 -> high 1
    c = Config({**base, "rope_scaling": {"type": "yarn", "factor": 4.0, "original_max_position_embeddings": 16,
                                         "mscale": 1.0, "mscale_all_dim": 1.0}})
    f, s = rope_inv_freq(c)
    ext = [1e4 ** (-2 * i / 8) for i in range(4)]
    want = [ext[0], ext[1] / 4, ext[2] / 4, ext[3] / 4]
    assert all(abs(a - b) < 1e-15 for a, b in zip(f.tolist(), want)) and s == 1.0
    assert abs(softmax_scale(c) - 12 ** -0.5 * (0.1 * math.log(4) + 1) ** 2) < 1e-15
    # d=16, orig=32: corr(32) = -1.60 -> low 0; corr(1) = 1.41 -> high 2: ramp [0, .5, 1, ...]
    c = Config({**base, "qk_rope_head_dim": 16, "rope_scaling": {"type": "yarn", "factor": 8.0,
               "original_max_position_embeddings": 32, "mscale": 0.707, "mscale_all_dim": 0.707}})
    f, s = rope_inv_freq(c)
    ext = [1e4 ** (-2 * i / 16) for i in range(8)]
    want = [ext[0], 0.5 * ext[1] / 8 + 0.5 * ext[1]] + [e / 8 for e in ext[2:]]
    assert all(abs(a - b) < 1e-15 for a, b in zip(f.tolist(), want)) and s == 1.0
    # V3's published numbers: softmax scale 192^-1/2 * m(1)^2 with factor 40 = 0.1352
    v3 = Config({**base, "qk_nope_head_dim": 128, "qk_rope_head_dim": 64, "rope_scaling": {"type": "yarn", "factor": 40,
                "original_max_position_embeddings": 4096, "mscale": 1.0, "mscale_all_dim": 1.0}})
    assert abs(softmax_scale(v3) - 0.1352) < 5e-5 and abs(yarn_get_mscale(40, 1.0) - 1.3689) < 5e-5
    # cos/sin magnitude scale m(mscale)/m(mscale_all_dim)
    c = Config({**base, "rope_scaling": {"type": "yarn", "factor": 4.0, "original_max_position_embeddings": 16,
                                         "mscale": 1.0, "mscale_all_dim": 0.5}})
    cos, sin = rope_cos_sin(c, 3, 1, torch.float64)
    assert abs(math.hypot(cos[0, 1].item(), sin[0, 1].item()) - yarn_get_mscale(4, 1) / yarn_get_mscale(4, 0.5)) < 1e-12


def route_scalar(cfg, W, p, x):
    """One token, plain Python, written straight from MODEL.md's routing rules."""
    E, G, k = cfg.n_routed_experts, cfg.n_group, cfg.num_experts_per_tok
    logits = [sum(a * b for a, b in zip(W[p + "mlp.gate.weight"][e].tolist(), x.tolist())) for e in range(E)]
    if cfg.scoring_func == "softmax":
        mx = max(logits)
        ex = [math.exp(v - mx) for v in logits]
        scores = [v / sum(ex) for v in ex]
    else:
        scores = [1 / (1 + math.exp(-v)) for v in logits]
    bias = W[p + "mlp.gate.e_score_correction_bias"].tolist() if cfg.topk_method == "noaux_tc" else [0.0] * E
    choice = [s + b for s, b in zip(scores, bias)]
    allowed = set(range(E))
    if cfg.topk_method != "greedy":
        per = E // G
        gscore = []
        for gi in range(G):
            mem = sorted(choice[gi * per:(gi + 1) * per], reverse=True)
            gscore.append(mem[0] if cfg.topk_method == "group_limited_greedy" else mem[0] + mem[1])
        kept = sorted(range(G), key=lambda gi: -gscore[gi])[:cfg.topk_group]
        allowed = {e for e in range(E) if e // per in kept}
    chosen = sorted(sorted(allowed, key=lambda e: -choice[e])[:k])
    w = [scores[e] for e in chosen]
    if cfg.norm_topk_prob:
        w = [v / sum(w) for v in w]
    return chosen, [v * cfg.routed_scaling_factor for v in w]


def check_router():
    g = torch.Generator().manual_seed(1)
    for method, scoring, norm, rsf, G, TG in (("noaux_tc", "sigmoid", True, 2.5, 4, 2),
                                              ("group_limited_greedy", "softmax", False, 16.0, 4, 2),
                                              ("greedy", "softmax", False, 1.0, 1, 1)):
        cfg = Config({"model_type": "deepseek_v3", "vocab_size": 8, "hidden_size": 16, "intermediate_size": 8,
                      "num_hidden_layers": 1, "num_attention_heads": 1, "kv_lora_rank": 4, "qk_nope_head_dim": 4,
                      "qk_rope_head_dim": 4, "v_head_dim": 4, "n_routed_experts": 8, "num_experts_per_tok": 3,
                      "moe_intermediate_size": 4, "n_group": G, "topk_group": TG, "topk_method": method,
                      "scoring_func": scoring, "norm_topk_prob": norm, "routed_scaling_factor": rsf})
        p = "model.layers.0."
        W = {p + "mlp.gate.weight": torch.randn(8, 16, generator=g, dtype=torch.float64),
             p + "mlp.gate.e_score_correction_bias": 0.3 * torch.randn(8, generator=g, dtype=torch.float64)}
        m = Model(cfg, W, dtype=torch.float64)
        x = torch.randn(64, 16, generator=g, dtype=torch.float64)
        ids, w = m.route(p, x)
        for t in range(64):
            ci, cw = route_scalar(cfg, m.W, p, x[t])
            assert ids[t].tolist() == ci, (method, t)
            assert all(abs(a - b) < 1e-12 for a, b in zip(w[t].tolist(), cw)), (method, t)


def run_all():
    check_rope()
    check_yarn()
    check_router()


if __name__ == "__main__":
    run_all()
    print("conventions ok")
