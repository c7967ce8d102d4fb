"""Gradient goldens for the C# trainer: tests/TestData/models/<name>/gradients.safetensors (+ gradients.json).

Run from anywhere:  /usr/bin/python3 tests/reference/make_gradients.py [--only NAME ...]
(needs Debian's python3-torch 1.13 and python3-numpy; the checkpoints must already exist — make_goldens.py).

The parameters are autograd leaves in float32 holding exactly the values STORED in the committed checkpoint (BF16
widened, FP8 code x scale_inv), i.e. what the C# trainer loads as fp32 master weights. The model is deepseek_ref.Model
(the same code that wrote goldens.safetensors). See README.md in this folder for the conventions.

Self-checks (assertions): routing choices of the batch have no near-ties and are identical in float32 and float64;
the losses equal an independent no-grad forward; every parameter tensor's autograd gradient (fp32 and fp64) agrees
with central finite differences of the float64 model on randomly chosen elements, and no finite-difference
evaluation changes any routing choice; the files re-read bit-equal.
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import safetensors_io as st  # noqa: E402
from deepseek_ref import Config, Model  # noqa: E402
from make_goldens import OUT_ROOT, load_weights  # noqa: E402

B, T = 2, 16
SGD_LR = 0.5
MTP_LAMBDA = 0.3        # lambda of the after_sgd_lambda.* step (MTP models)
MOE_GAP = 1e-4          # required margin of every top-k / top-group decision of the batch (choice-score units)
FD_PER_TENSOR = 2       # finite-difference elements per parameter tensor (more for the router gates)
FD_STEP = 1e-5          # central difference step, float64, scaled by max(1, |w|)
FD_REL_TOL = 1e-4       # fp64 autograd: |autograd - fd| / max(|fd|, floor), floor = 1e-3 * max|grad| of the tensor;
                        # fp32 autograd: |autograd - fd| / max|grad| of the tensor
GRAD_FLOOR = 1e-3

MODELS = {
    # name: (batch seed, full: save grad.* for every tensor (False: only the representative SGD tensors))
    "tiny-v3": (31001, True),
    "tiny-v2-lite": (33003, True),
    "tiny-qwen2": (34004, True),
    "tiny-llama": (35005, True),
    "tiny-v3-fp8": (32002, False),
}


def trainable(cfg, W):
    """Names of every differentiated tensor (checkpoint order). e_score_correction_bias only chooses: excluded."""
    return [k for k in W if not k.endswith("e_score_correction_bias")]


def mtp_prefix(cfg):
    return f"model.layers.{cfg.num_hidden_layers}."


def run_losses(model, tokens, recs_out=None):
    """tokens LongTensor [B, T] -> (L_main, L_mtp or None). Each row is its own causal sequence at positions 0..T-1.
    L_main = mean over the B*(T-1) positions t = 0..T-2 of CE(logits_t, tokens[b, t+1]).
    L_mtp  = mean over the B*(T-2) positions i = 0..T-3 of CE(mtp_logits_i, tokens[b, i+2]), where the MTP module gets
             t_{i+1} = tokens[b, i+1] and the main model's final hidden h_i (after model.norm), positions 0..T-3."""
    cfg = model.cfg
    Bn, Tn = tokens.shape
    s_main, s_mtp = 0.0, 0.0
    has_mtp = cfg.num_nextn_predict_layers > 0
    for b in range(Bn):
        ids = tokens[b]
        recs = [dict() for _ in range(cfg.num_hidden_layers)]
        logits, hf = model.forward(ids, recs=recs)
        s_main = s_main + F.cross_entropy(logits[:-1], ids[1:], reduction="sum")
        rec = {}
        if has_mtp:
            ml = model.mtp(ids[1:Tn - 1], hf[:Tn - 2], rec=rec)
            s_mtp = s_mtp + F.cross_entropy(ml, ids[2:], reduction="sum")
        if recs_out is not None:
            recs_out.append(([r.get("experts") for r in recs], rec.get("experts")))
    return s_main / (Bn * (Tn - 1)), (s_mtp / (Bn * (Tn - 2)) if has_mtp else None)


def direct_losses(cfg, W, tokens):
    """Independent check of the loss: fresh no-grad model, CE written out as logsumexp - logit."""
    m = Model(cfg, W)
    with torch.no_grad():
        tot, tot_mtp, n, n_mtp = 0.0, 0.0, 0, 0
        for b in range(tokens.shape[0]):
            ids = tokens[b]
            lg, hf = m.forward(ids)
            for t in range(T - 1):
                tot += float(torch.logsumexp(lg[t], 0) - lg[t, ids[t + 1]])
                n += 1
            if cfg.num_nextn_predict_layers:
                ml = m.mtp(ids[1:T - 1], hf[:T - 2])
                for i in range(T - 2):
                    tot_mtp += float(torch.logsumexp(ml[i], 0) - ml[i, ids[i + 2]])
                    n_mtp += 1
    return tot / n, (tot_mtp / n_mtp if n_mtp else None)


def leaves(W, names, dtype):
    P = {k: v.to(dtype).clone() for k, v in W.items()}
    for k in names:
        P[k].requires_grad_(True)
    return P


def grads(model, names, tokens):
    """-> (L_main, L_mtp, {name: grad or None} for L_main, same for L_mtp, routing record)."""
    recs = []
    lm, lt = run_losses(model, tokens, recs)
    params = [model.W[k] for k in names]
    g_main = torch.autograd.grad(lm, params, retain_graph=lt is not None, allow_unused=True)
    g_mtp = torch.autograd.grad(lt, params, allow_unused=True) if lt is not None else [None] * len(names)
    return lm, lt, dict(zip(names, g_main)), dict(zip(names, g_mtp)), recs


def same_routing(a, b):
    for (la, ma), (lb, mb) in zip(a, b):
        for x, y in zip(la, lb):
            if (x is None) != (y is None) or (x is not None and not torch.equal(x, y)):
                return False
        if (ma is None) != (mb is None) or (ma is not None and not torch.equal(ma, mb)):
            return False
    return True


def representative(cfg, W):
    """The tensors that get an after_sgd.* golden (those that exist in this model)."""
    L = cfg.num_hidden_layers
    moe = next((l for l in range(L) if cfg.is_moe_layer(l)), None)
    a = f"model.layers.{moe if moe is not None else L - 1}."
    cand = ["model.embed_tokens.weight", a + "self_attn.q_b_proj.weight", a + "self_attn.q_proj.weight",
            a + "self_attn.kv_b_proj.weight", a + "self_attn.o_proj.weight", a + "self_attn.k_proj.bias",
            "model.layers.0.mlp.down_proj.weight", a + "mlp.gate.weight", a + "mlp.experts.{e}.down_proj.weight",
            a + "mlp.shared_experts.up_proj.weight", "model.layers.0.input_layernorm.weight",
            a + "self_attn.kv_a_layernorm.weight", "model.norm.weight", "lm_head.weight",
            mtp_prefix(cfg) + "eh_proj.weight", mtp_prefix(cfg) + "hnorm.weight"]
    return cand, a


def choose_fd_elements(rng, g64_main, g64_mtp, n):
    """n random flat indices among elements whose |grad| (main or mtp) is >= GRAD_FLOOR x the tensor's max."""
    tot = torch.zeros_like(g64_main if g64_main is not None else g64_mtp).flatten()
    for g in (g64_main, g64_mtp):
        if g is not None:
            gf = g.flatten().abs()
            tot = torch.maximum(tot, gf / max(gf.max().item(), 1e-300))
    cand = (tot >= GRAD_FLOOR).nonzero().flatten().numpy()
    if len(cand) == 0:
        return []
    return sorted(rng.choice(cand, size=min(n, len(cand)), replace=False).tolist())


def rel_err(a, ref, scale):
    return abs(a - ref) / max(abs(ref), GRAD_FLOOR * scale, 1e-30)


def generate(name, spec):
    t0 = time.time()
    batch_seed, full = spec
    folder = os.path.join(OUT_ROOT, name)
    with open(os.path.join(folder, "config.json")) as f:
        cfg = Config(json.load(f))
    _, W = load_weights(folder)
    names = trainable(cfg, W)
    mp = mtp_prefix(cfg)
    has_mtp = cfg.num_nextn_predict_layers > 0

    for attempt in range(20):
        seed = batch_seed + 7919 * attempt
        rng = np.random.default_rng(seed)
        tokens = torch.from_numpy(rng.integers(2, cfg.vocab_size, size=(B, T)).astype(np.int64))
        m32 = Model(cfg, W)
        m32.W = leaves(W, names, torch.float32)
        l32, lt32, g32, gt32, routes32 = grads(m32, names, tokens)
        s = m32.stats
        ok = not cfg.n_routed_experts or (s.min_expert_gap > MOE_GAP and s.min_group_gap > MOE_GAP
                                          and (cfg.topk_method != "noaux_tc" or s.min_kth_choice > MOE_GAP))
        m64 = Model(cfg, W, dtype=torch.float64)
        m64.W = leaves(W, names, torch.float64)
        l64, lt64, g64, gt64, routes64 = grads(m64, names, tokens)
        ok &= same_routing(routes32, routes64)
        if ok:
            break
        print(f"  {name}: batch seed {seed} rejected (expert gap {s.min_expert_gap:.2e}, group gap {s.min_group_gap:.2e})")
    else:
        raise SystemExit(f"{name}: no batch without near-ties")

    checks = {}
    # losses: autograd forward == independent no-grad forward (fp32) and ~ fp64
    dl, dlt = direct_losses(cfg, W, tokens)
    checks["loss_vs_direct_forward_abs"] = abs(l32.item() - dl)
    assert checks["loss_vs_direct_forward_abs"] <= 1e-5, checks
    checks["loss_fp32_vs_fp64_abs"] = abs(l32.item() - l64.item())
    assert checks["loss_fp32_vs_fp64_abs"] <= 1e-5, checks
    if has_mtp:
        checks["loss_mtp_vs_direct_forward_abs"] = abs(lt32.item() - dlt)
        checks["loss_mtp_fp32_vs_fp64_abs"] = abs(lt32.item() - lt64.item())
        assert checks["loss_mtp_vs_direct_forward_abs"] <= 1e-5 and checks["loss_mtp_fp32_vs_fp64_abs"] <= 1e-5, checks

    # which tensors each loss reaches (structurally): L_main every main tensor; L_mtp every tensor the graph reaches
    main_names = [k for k in names if not (has_mtp and k.startswith(mp))]
    for k in main_names:
        assert g64[k] is not None or ".mlp.experts." in k, f"L_main does not reach {k}"
    for k in names:
        if has_mtp and k.startswith(mp):
            assert g64[k] is None, f"L_main reaches MTP tensor {k}"
    mtp_names = []
    if has_mtp:
        for k in names:
            expert = ".mlp.experts." in k
            reached = gt64[k] is not None
            # an expert the batch never chooses is still part of a reached layer: stored as zeros
            layer_reached = expert and any(gt64[o] is not None for o in names if o.startswith(k.split("mlp.experts.")[0] + "mlp.gate."))
            if reached or layer_reached:
                mtp_names.append(k)

    def zero_if_none(g, k):
        return g if g is not None else torch.zeros_like(W[k])

    # float32 vs float64 autograd: worst error relative to the tensor's largest gradient
    worst = {"main": 0.0, "mtp": 0.0}
    for key, a, b, lst in (("main", g32, g64, main_names), ("mtp", gt32, gt64, mtp_names)):
        for k in lst:
            x, y = zero_if_none(a[k], k).double(), zero_if_none(b[k], k)
            sc = y.abs().max().item()
            if sc > 0:
                worst[key] = max(worst[key], (x - y).abs().max().item() / sc)
    checks["grad_fp32_vs_fp64_max_err_rel_to_tensor_max"] = worst
    assert max(worst.values()) <= 1e-4, worst

    # central finite differences of the float64 model, on every tensor
    frng = np.random.default_rng(seed + 1)
    fd_worst = {"fp64_autograd": 0.0, "fp32_autograd": 0.0}
    n_fd = 0
    base_routes = routes64
    with torch.no_grad():
        for k in names:
            n = FD_PER_TENSOR * (3 if k.endswith("mlp.gate.weight") else 1)
            for idx in choose_fd_elements(frng, g64[k], gt64[k], n):
                p = m64.W[k].view(-1)
                w0 = p[idx].item()
                h = FD_STEP * max(1.0, abs(w0))
                vals = []
                for sgn in (1.0, -1.0):
                    p[idx] = w0 + sgn * h
                    r = []
                    lm, lt = run_losses(m64, tokens, r)
                    assert same_routing(r, base_routes), f"FD step on {k}[{idx}] changed the routing"
                    vals.append((lm.item(), lt.item() if lt is not None else 0.0))
                p[idx] = w0
                fd_m = (vals[0][0] - vals[1][0]) / (2 * h)
                fd_t = (vals[0][1] - vals[1][1]) / (2 * h)
                for fd, a64, a32 in ((fd_m, g64[k], g32[k]), (fd_t, gt64[k], gt32[k])):
                    if a64 is None:
                        assert abs(fd) < 1e-9, f"{k}: no autograd gradient but FD {fd}"
                        continue
                    sc = a64.abs().max().item()
                    e64 = rel_err(a64.view(-1)[idx].item(), fd, sc)
                    e32 = abs(a32.view(-1)[idx].item() - fd) / sc      # fp32 rounding: relative to the tensor's scale
                    fd_worst["fp64_autograd"] = max(fd_worst["fp64_autograd"], e64)
                    fd_worst["fp32_autograd"] = max(fd_worst["fp32_autograd"], e32)
                    assert e64 <= FD_REL_TOL and e32 <= FD_REL_TOL, f"{k}[{idx}]: fd {fd} autograd64 {a64.view(-1)[idx].item()} autograd32 {a32.view(-1)[idx].item()}"
                n_fd += 1
    checks["finite_difference"] = {"elements": n_fd, "step": f"{FD_STEP} * max(1, |w|), float64, central",
                                   "max_rel_err": fd_worst,
                                   "rel_err": {"fp64_autograd": f"|autograd - fd| / max(|fd|, {GRAD_FLOOR} * max|grad of tensor|)",
                                               "fp32_autograd": "|autograd - fd| / max|grad of tensor| (fp32 rounding is relative to the tensor's scale)"},
                                   "elements_chosen_among": f"|grad| >= {GRAD_FLOOR} * max|grad of tensor| (main or mtp)"}

    # routing summary
    if cfg.n_routed_experts:
        s = m32.stats
        checks["routing"] = {"min_expert_gap": s.min_expert_gap,
                             "min_group_gap": s.min_group_gap if math.isfinite(s.min_group_gap) else None,
                             "min_chosen_choice_score": s.min_kth_choice, "routing_decisions": s.tokens,
                             "tokens_rerouted_by_bias": s.changed_by_bias, "fp32_equals_fp64": True,
                             "fd_steps_change_no_choice": True}

    # SGD golden on representative tensors
    cand, moe_prefix = representative(cfg, W)
    chosen_expert = None
    if cfg.n_routed_experts:
        ids = routes32[0][0][cfg.first_k_dense_replace]
        chosen_expert = int(ids[0, 0])
    rep = []
    for c in cand:
        c = c.replace("{e}", str(chosen_expert))
        if c in W and c in names and c not in rep:
            rep.append(c)
    if not full:
        # subset models (tiny-v3-fp8): a few FP8-stored Linear weights (main MoE layer and MTP layer), the router, norms
        keep = ("self_attn.kv_b_proj.weight", "mlp.gate.weight", "down_proj.weight", "layernorm.weight", "norm.weight")
        rep = [k for k in rep if k.endswith(keep) and not k.endswith("mlp.down_proj.weight")]
        rep.append(mp + "self_attn.kv_b_proj.weight")

    out, desc = {}, {}

    def put(k, v, text):
        a = v.detach().numpy() if isinstance(v, torch.Tensor) else np.asarray(v)
        out[k] = st.Tensor.i32(a) if a.dtype in (np.int32, np.int64) else st.Tensor.f32(a)
        desc[k] = text

    put("tokens", tokens.to(torch.int32), f"token batch [B, T]; each row its own causal sequence at positions 0..{T - 1}; ids in [2, vocab)")
    put("loss", l32.reshape(1), f"L_main = mean next-token cross-entropy over the B*(T-1) = {B * (T - 1)} positions (t predicts tokens[b, t+1]), fp32")
    if has_mtp:
        put("loss_mtp", lt32.reshape(1), f"L_mtp = mean cross-entropy over the B*(T-2) = {B * (T - 2)} positions i = 0..T-3: MTP(t_(i+1), h_i) predicts tokens[b, i+2]")
    put("sgd_lr", torch.tensor([SGD_LR], dtype=torch.float32), "learning rate of the after_sgd.* step")
    for k in (main_names if full else [r for r in main_names if r in rep]):
        put("grad." + k, zero_if_none(g32[k], k), "dL_main/dW (fp32)" + ("; expert never chosen by the batch: zeros" if g32[k] is None else ""))
    for k in (mtp_names if full else [r for r in mtp_names if r in rep]):
        put("grad_mtp." + k, zero_if_none(gt32[k], k), "dL_mtp/dW (fp32)" + ("; expert never chosen by the batch: zeros" if gt32[k] is None else ""))
    for k in rep:
        g = zero_if_none(g32[k], k) if k in main_names else torch.zeros_like(W[k])
        put("after_sgd." + k, W[k] - g * torch.tensor(SGD_LR, dtype=torch.float32),
            "W - lr * dL_main/dW (fp32: product rounded, then difference rounded)" + ("; MTP tensor, dL_main/dW = 0 so it equals W" if k not in main_names else ""))

    if has_mtp:
        put("mtp_lambda", torch.tensor([MTP_LAMBDA], dtype=torch.float32), "lambda of the after_sgd_lambda.* step")
        lam = torch.tensor(MTP_LAMBDA, dtype=torch.float32)
        lr = torch.tensor(SGD_LR, dtype=torch.float32)
        for k in rep:
            g = zero_if_none(g32[k], k) if k in main_names else torch.zeros_like(W[k])
            gm = zero_if_none(gt32[k], k) if k in mtp_names else torch.zeros_like(W[k])
            put("after_sgd_lambda." + k, W[k] - (g + gm * lam) * lr,
                "W - lr * (dL_main/dW + lambda * dL_mtp/dW), fp32 as W - ((grad + grad_mtp * lambda) * lr)")

    gpath = os.path.join(folder, "gradients.safetensors")
    st.write_file(gpath, out, metadata={"generator": "tests/reference/make_gradients.py", "model": name})
    back, _ = st.read_file(gpath)
    for k, t in out.items():
        assert np.array_equal(back[k][1], t.array), f"gradients {k} did not re-read equal"

    untouched = [k for k in names if k not in mtp_names]
    meta = {
        "model": name,
        "generator": "tests/reference/make_gradients.py (fp32 PyTorch autograd through tests/reference/deepseek_ref.py)",
        "batch_seed": seed,
        "batch": {"B": B, "T": T, "positions": f"0..{T - 1} per row, each row causal on its own"},
        "parameters": "fp32 autograd leaves initialised from the values stored in the checkpoint (BF16 widened exactly; FP8 code x scale_inv)",
        "loss": l32.item(),
        **({"loss_mtp": lt32.item()} if has_mtp else {}),
        "sgd_lr": SGD_LR,
        "conventions": {
            "loss": f"mean over B*(T-1) = {B * (T - 1)} positions of -log softmax(logits_t)[tokens[b, t+1]], fp32",
            **({"loss_mtp": f"mean over B*(T-2) = {B * (T - 2)} positions i = 0..T-3 of -log softmax(mtp_logits_i)[tokens[b, i+2]]; "
                            "mtp input at i: t_(i+1) = tokens[b, i+1] and h_i = main final hidden after model.norm; the MTP block "
                            "runs causally over positions 0..T-3",
                "combined": "d(L_main + lambda * L_mtp)/dW = grad.W + lambda * grad_mtp.W (an absent entry is zero)"} if has_mtp else {}),
            "not_differentiated": "the expert choice (top-k ids incl. e_score_correction_bias and group masking); "
                                  "e_score_correction_bias gets no gradient and is not listed; gradients reach mlp.gate.weight "
                                  "through the chosen experts' unbiased scores (normalised if norm_topk_prob, x routed_scaling_factor)",
            "absent": ("grad.* is omitted for MTP tensors (dL_main/dW = 0); grad_mtp.* is omitted for "
                       + (", ".join(untouched) + " (not reached by L_mtp)" if untouched else "no tensor (L_mtp reaches every tensor)"))
                      if has_mtp else "no MTP",
            "tied": "tie_word_embeddings: the head is model.embed_tokens.weight, whose gradient sums the embedding and head uses" if cfg.tie_word_embeddings else None,
            "subset": None if full else ("only the representative tensors (the after_sgd.* list) are stored in grad.* and grad_mtp.* "
                                         "to keep the file small; the other gradients are not in this file"),
            "after_sgd": "W - lr * grad.W computed in fp32 as W - (grad.W * lr); lr = sgd_lr",
            "after_sgd_lambda": ("W - lr * (grad.W + lambda * grad_mtp.W) in fp32 as W - ((grad.W + grad_mtp.W * lambda) * lr); "
                                 "lambda = mtp_lambda (absent grad = 0)") if has_mtp else None,
        },
        "self_checks": checks,
        "suggested_tolerance": "gradients: |c# - golden| <= 1e-4 * max|golden of tensor| + 1e-6; losses 1e-5 absolute",
        "tensors": {k: {"dtype": t.dtype, "shape": list(t.array.shape), "description": desc[k]} for k, t in out.items()},
    }
    with open(os.path.join(folder, "gradients.json"), "w") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")
    print(f"{name}: batch seed {seed}, loss {l32.item():.6f}" + (f", loss_mtp {lt32.item():.6f}" if has_mtp else "")
          + f", {os.path.getsize(gpath) / 1024:.0f} KiB, checks {json.dumps(checks)}, {time.time() - t0:.1f}s")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", nargs="*", help="model names (default: all)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    for n in args.only or list(MODELS):
        generate(n, MODELS[n])


if __name__ == "__main__":
    main()
