"""PyTorch 1.13 eager CPU training speed on a tiny checkpoint, for comparison with `deepseek train sft`.

Same model (tests/reference/deepseek_ref.py on the committed weights, fp32), same JSONL batch of {"tokens": [...]} lines,
same loss (mean CE + mtp_weight * mean MTP CE) and optimizer (torch.optim.AdamW, betas (0.9, 0.95), weight decay 0).
Prints tokens/s per step and the median after the first (warm-up) step.

    apt-get install -y python3-torch python3-numpy libopenblas0-pthread
    /usr/bin/python3 tests/reference/bench_training.py --model tiny-v3 --data batch.jsonl --steps 6 --threads 1
"""
import argparse
import json
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from deepseek_ref import Config, Model  # noqa: E402
from make_goldens import OUT_ROOT, load_weights  # noqa: E402
from make_gradients import run_losses, trainable  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="tiny-v3")
    ap.add_argument("--data", required=True)
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--mtp-weight", type=float, default=0.3)
    ap.add_argument("--lr", type=float, default=1e-4)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    folder = os.path.join(OUT_ROOT, a.model)
    cfg = Config(json.load(open(os.path.join(folder, "config.json"))))
    _, W = load_weights(folder)
    names = trainable(cfg, W)
    for k in names:
        W[k] = W[k].float().clone().requires_grad_(True)
    model = Model(cfg, W)
    tokens = torch.tensor([json.loads(line)["tokens"] for line in open(a.data) if line.strip()], dtype=torch.long)
    opt = torch.optim.AdamW([W[k] for k in names], lr=a.lr, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.0)
    rates = []
    for step in range(1, a.steps + 1):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        main_loss, mtp_loss = run_losses(model, tokens)
        loss = main_loss + (a.mtp_weight * mtp_loss if mtp_loss is not None else 0)
        loss.backward()
        opt.step()
        dt = time.perf_counter() - t0
        rates.append(tokens.numel() / dt)
        print(f"step {step}/{a.steps}  loss {float(loss):.4f}  {rates[-1]:.0f} tok/s")
    print(f"median {statistics.median(rates[1:] or rates):.0f} tok/s ({a.threads} thread(s), torch {torch.__version__})")


if __name__ == "__main__":
    main()
