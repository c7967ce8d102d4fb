#!/usr/bin/env python3
"""Turns run-on-gpu.sh's JSON files (gpu-bench.json, torch.json, e2e.json, cli-bench.json) into the Markdown tables
of the README's GPU performance section. Usage: summarize.py RESULTS_DIR > summary.md. Missing files are skipped."""
import json
import os
import sys


def load(folder, name):
    path = os.path.join(folder, name)
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def fmt(value, digits=1):
    return "—" if value is None else f"{value:.{digits}f}"


def ratio(a, b):
    return "—" if a is None or not b else f"{a / b:.3f}"


def main():
    folder = sys.argv[1] if len(sys.argv) > 1 else "."
    ours, torch, e2e, cli = (load(folder, n) for n in ("gpu-bench.json", "torch.json", "e2e.json", "cli-bench.json"))
    device = (ours or {}).get("device", {}).get("name") or (torch or {}).get("device", {}).get("name") or "unknown GPU"
    print(f"## GPU figures — {device}\n")
    if torch:
        print(f"PyTorch {torch.get('torch_version')} (CUDA {torch.get('cuda_version')}); {torch.get('timing')}.\n")
    rows = (ours or {}).get("results", [])
    trows = (torch or {}).get("results", [])

    def ours_of(section, kernel=None, **dims):
        return next((r for r in rows if r["section"] == section and (kernel is None or r["kernel"] == kernel)
                     and all(r.get("dimensions", {}).get(k) == v for k, v in dims.items())), None)

    def torch_of(op_prefix, **dims):
        r = next((r for r in trows if r["op"].startswith(op_prefix) and all(r.get(k) == v for k, v in dims.items())), None)
        return r and r.get("tflops")

    dense = sorted({(r["dimensions"]["m"], r["dimensions"]["n"], r["dimensions"]["k"]) for r in rows if r["section"] in ("fp8", "bf16")}
                   | {(r["m"], r["n"], r["k"]) for r in trows if r["section"] in ("fp8", "bf16", "fp32")})
    if dense:
        print("### FP8 block-scaled GEMM, TFLOPS (2·M·N·K per second)\n")
        print("| M | N×K | ours `fp8_gemm` | ours `fp8_gemm_mma` | `_scaled_mm` tensorwise | tensorwise fast_accum | `_scaled_mm` 1×128/128×128 | `fp8_gemm` ÷ tensorwise | `fp8_gemm_mma` ÷ tensorwise |")
        print("|---|---|---|---|---|---|---|---|---|")
        for m, n, k in dense:
            o = ours_of("fp8", "fp8_gemm", m=m, n=n, k=k)
            q = ours_of("fp8", "fp8_gemm_mma", m=m, n=n, k=k)
            t = torch_of("_scaled_mm tensorwise fast_accum=False", m=m, n=n, k=k)
            print(f"| {m} | {n}×{k} | {fmt(o and o['tflops'], 2)} | {fmt(q and q['tflops'], 2)} | {fmt(t)} | {fmt(torch_of('_scaled_mm tensorwise fast_accum=True', m=m, n=n, k=k))} "
                  f"| {fmt(torch_of('_scaled_mm blockwise', m=m, n=n, k=k))} | {ratio(o and o['tflops'], t)} | {ratio(q and q['tflops'], t)} |")
        print("\n### BF16 weights, TFLOPS\n")
        print("| M | N×K | ours `gemm_w_bf16` (fp32 act × bf16 w) | torch bf16 `matmul` | torch fp32 `matmul` (TF32 off) | ours ÷ bf16 | ours ÷ fp32 |")
        print("|---|---|---|---|---|---|---|")
        for m, n, k in dense:
            o = ours_of("bf16", m=m, n=n, k=k)
            b, f = torch_of("matmul bf16", m=m, n=n, k=k), torch_of("matmul fp32", m=m, n=n, k=k)
            print(f"| {m} | {n}×{k} | {fmt(o and o['tflops'], 2)} | {fmt(b)} | {fmt(f)} | {ratio(o and o['tflops'], b)} | {ratio(o and o['tflops'], f)} |")
    grouped = [r for r in rows if r["section"] == "grouped"]
    if grouped or any(r["section"] == "grouped" for r in trows):
        print("\n### Grouped FP8 GEMM (MoE contiguous layout), TFLOPS\n")
        print("| groups × rows | N×K | ours `fp8_gemm_grouped` | torch | torch op |")
        print("|---|---|---|---|---|")
        keys = sorted({(r["dimensions"]["groups"], r["dimensions"]["m_per_group"], r["dimensions"]["n"], r["dimensions"]["k"]) for r in grouped}
                      | {(r["groups"], r["m_per_group"], r["n"], r["k"]) for r in trows if r["section"] == "grouped"})
        for g, mg, n, k in keys:
            o = ours_of("grouped", groups=g, m_per_group=mg, n=n, k=k)
            t = next((r for r in trows if r["section"] == "grouped" and (r["groups"], r["m_per_group"], r["n"], r["k"]) == (g, mg, n, k)), None)
            print(f"| {g} × {mg} | {n}×{k} | {fmt(o and o['tflops'], 2)} | {fmt(t and t['tflops'])} | {t['op'] if t else '—'} |")
    mla = [r for r in rows if r["section"] == "mla"]
    if mla:
        copy = next((r["gbs"] for r in trows if r["section"] == "memcpy"), None)
        print("\n### MLA decode attention (`mla_attend`), GB/s of fp32 latent cache read\n")
        print(f"| batch | context | heads | ms | GB/s | ÷ device copy ({fmt(copy, 0)} GB/s, read+write) |")
        print("|---|---|---|---|---|---|")
        for r in mla:
            d = r["dimensions"]
            print(f"| {d['batch']} | {d['context']} | {d['heads']} | {r['milliseconds']:.3f} | {fmt(r['gbs'])} | {ratio(r['gbs'], copy)} |")
    if e2e and e2e.get("e2e"):
        x = e2e["e2e"]
        print("\n### End-to-end (gpu-bench e2e: Generator on the cuda backend, greedy, batch 1)\n")
        print("| model | prompt | generated | prefill tok/s | decode tok/s | activated weight GB/s at decode |")
        print("|---|---|---|---|---|---|")
        print(f"| {x['model']} | {x['prompt_tokens']} | {x['gen_tokens']} | {x['prefill_tokens_per_s']} | {x['decode_tokens_per_s']} | {x['decode_weight_gbs']} |")
    if cli:
        print(f"\n`deepseek bench --backend cuda`: prefill {cli.get('prefill_tokens_per_s')} tok/s, decode {cli.get('decode_tokens_per_s')} tok/s")
    problems = (ours or {}).get("check_failures", []) + (ours or {}).get("errors", []) + (torch or {}).get("errors", []) \
        + ((e2e or {}).get("errors") or [])
    if problems:
        print("\n**Problems:** " + "; ".join(problems))
    unsupported = (torch or {}).get("unsupported", {})
    if unsupported:
        print("\nNot measured by this torch: " + "; ".join(f"{k} ({v[:100]})" for k, v in unsupported.items()))


if __name__ == "__main__":
    main()
