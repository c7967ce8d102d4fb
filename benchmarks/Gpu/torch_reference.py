#!/usr/bin/env python3
"""PyTorch baselines for gpu-bench, on the same GPU in the same run.

Times, with CUDA events, at the shapes gpu-bench uses (DeepSeek-V3's GEMMs at M = 128 and 4096):
  fp8        torch._scaled_mm, E4M3 x E4M3 -> bf16, per-tensor scales (use_fast_accum False and True), and
             1x128 / 128x128 block scales (DeepSeek-V3's recipe) where this torch accepts them
  bf16       torch.matmul, bf16 x bf16 -> bf16
  fp32       torch.matmul, fp32 with TF32 off (the CUDA-core roofline our fp32-FMA kernels live under)
  grouped    torch._scaled_grouped_mm (torch >= 2.8, sm_90) or, failing that, a loop of torch._scaled_mm per group
  memcpy     device-to-device copy bandwidth (read + write), the ceiling for MLA decode GB/s

Writes a JSON report (--json FILE). Exit codes as gpu-bench's: 0 ok, 1 error, 2 usage, 3 no CUDA GPU / no torch.
Every optional API is probed and, where this torch lacks it, recorded under "unsupported" instead of failing.
"""
import argparse
import json
import statistics
import sys
import time

DENSE_NK = [(7168, 2048), (4096, 7168), (2112, 7168), (24576, 1536)]
SHAPES = {
    "deepseek": {"m": [128, 4096], "groups": 8, "rows_per_group": [16, 512], "grouped_nk": [(4096, 7168), (7168, 2048)]},
    "quick": {"m": [128], "groups": 8, "rows_per_group": [16], "grouped_nk": [(4096, 7168), (7168, 2048)]},
}
E4M3_MAX = 448.0
REPETITIONS = 5


def fail(code, message):
    print(f"torch_reference: {message}", file=sys.stderr)
    sys.exit(code)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", help="write the report here")
    parser.add_argument("--shapes", choices=sorted(SHAPES), default="deepseek")
    parser.add_argument("--target-ms", type=float, default=50.0, help="GPU time per timed repetition")
    args = parser.parse_args()

    try:
        import torch
    except ImportError as e:
        fail(3, f"no usable GPU, nothing measured: torch is not importable ({e})")
    if not torch.cuda.is_available():
        fail(3, f"no usable GPU, nothing measured: torch {torch.__version__} sees no CUDA device")

    bench = TorchBench(torch, args.target_ms)
    shapes = SHAPES[args.shapes]
    bench.run_all(shapes)
    report = bench.report(args.shapes)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(report, f, indent=2)
        print(f"wrote {args.json}")
    return 1 if bench.errors else 0


class TorchBench:
    def __init__(self, torch, target_ms):
        self.torch = torch
        self.target_ms = target_ms
        self.dev = torch.device("cuda")
        self.results = []
        self.unsupported = {}
        self.errors = []
        self.fp8 = getattr(torch, "float8_e4m3fn", None)
        torch.manual_seed(20251122)
        torch.backends.cuda.matmul.allow_tf32 = False
        props = torch.cuda.get_device_properties(0)
        self.device = {
            "name": props.name,
            "sm": f"{props.major}{props.minor}",
            "multiprocessors": props.multi_processor_count,
            "memory_gib": round(props.total_memory / 2**30, 1),
        }
        print(f"torch {torch.__version__} (CUDA {torch.version.cuda}) on {props.name}, sm_{props.major}{props.minor}")
        print(f"{'section':<8} {'op':<34} {'shape':<30} {'ms':>10} {'TFLOPS':>8} {'GB/s':>8}  note")

    # -- timing ---------------------------------------------------------------------------------------------------
    def measure(self, fn):
        """Median ms per call over REPETITIONS repetitions of back-to-back calls filling target_ms (CUDA events)."""
        torch = self.torch
        fn()
        fn()
        torch.cuda.synchronize()
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)

        def timed(count):
            start.record()
            for _ in range(count):
                fn()
            end.record()
            end.synchronize()
            return start.elapsed_time(end)

        once = timed(1)
        count = int(min(1000, max(1, -(-self.target_ms // max(once, 1e-3)))))
        return statistics.median(timed(count) / count for _ in range(REPETITIONS))

    def record(self, section, op, shape, ms, flops=None, nbytes=None, note="", **dims):
        row = {"section": section, "op": op, "shape": shape, "milliseconds": round(ms, 5), "note": note, **dims}
        row["tflops"] = round(flops / (ms * 1e-3) / 1e12, 2) if flops else None
        row["gbs"] = round(nbytes / (ms * 1e-3) / 1e9, 1) if nbytes else None
        self.results.append(row)
        t = f"{row['tflops']:.2f}" if row["tflops"] is not None else "-"
        g = f"{row['gbs']:.1f}" if row["gbs"] is not None else "-"
        print(f"{section:<8} {op:<34} {shape:<30} {ms:>10.4f} {t:>8} {g:>8}  {note}", flush=True)

    def attempt(self, key, fn):
        """Runs fn; an API this torch lacks goes to 'unsupported', anything else to 'errors'."""
        try:
            fn()
        except (RuntimeError, TypeError, AttributeError, NotImplementedError, ValueError) as e:
            text = " ".join(str(e).split())[:300]
            self.unsupported[key] = f"{type(e).__name__}: {text}"
            print(f"{'':<8} {key}: not measured ({type(e).__name__}: {text[:120]})", flush=True)
        except Exception as e:  # noqa: BLE001 - recorded, the run goes on
            self.errors.append(f"{key}: {type(e).__name__}: {e}")
            print(f"{'':<8} {key}: ERROR {e}", flush=True)

    # -- FP8 helpers ----------------------------------------------------------------------------------------------
    def quantize_tensorwise(self, x):
        scale = (x.abs().amax().float() / E4M3_MAX).clamp(min=1e-12)
        return (x / scale).clamp(-E4M3_MAX, E4M3_MAX).to(self.fp8), scale

    def scaled_mm(self, a, b_t, scale_a, scale_b, fast_accum=False):
        """torch._scaled_mm across versions: keyword scales (2.1 takes them only as keywords), tuple result before 2.4."""
        out = self.torch._scaled_mm(a, b_t, scale_a=scale_a, scale_b=scale_b, out_dtype=self.torch.bfloat16, use_fast_accum=fast_accum)
        return out[0] if isinstance(out, tuple) else out

    def check_close(self, what, got, want, tolerance):
        err = ((got.float() - want).abs().max() / want.abs().max().clamp(min=1e-30)).item()
        if err > tolerance:
            raise AssertionError(f"{what}: max relative error {err:.3g} > {tolerance}")
        return f"max rel err {err:.2g} vs fp32 dequantised"

    # -- sections -------------------------------------------------------------------------------------------------
    def run_all(self, shapes):
        torch = self.torch
        if self.fp8 is None or not hasattr(torch, "_scaled_mm"):
            self.unsupported["fp8"] = f"torch {torch.__version__} has no float8_e4m3fn/_scaled_mm"
        for m in shapes["m"]:
            for n, k in DENSE_NK:
                if self.fp8 is not None and hasattr(torch, "_scaled_mm"):
                    self.attempt(f"fp8 tensorwise M={m} N={n} K={k}", lambda: self.fp8_tensorwise(m, n, k))
                    self.attempt(f"fp8 blockwise M={m} N={n} K={k}", lambda: self.fp8_blockwise(m, n, k))
                self.attempt(f"bf16 M={m} N={n} K={k}", lambda: self.dense(m, n, k, torch.bfloat16, "bf16"))
                self.attempt(f"fp32 M={m} N={n} K={k}", lambda: self.dense(m, n, k, torch.float32, "fp32"))
        if self.fp8 is not None and hasattr(torch, "_scaled_mm"):
            for rows in shapes["rows_per_group"]:
                for n, k in shapes["grouped_nk"]:
                    self.attempt(f"grouped G={shapes['groups']} M/G={rows} N={n} K={k}", lambda: self.grouped(shapes["groups"], rows, n, k))
        self.attempt("memcpy", self.memcpy)

    def fp8_tensorwise(self, m, n, k):
        torch = self.torch
        a, sa = self.quantize_tensorwise(torch.randn(m, k, device=self.dev))
        b, sb = self.quantize_tensorwise(torch.randn(n, k, device=self.dev))
        want = (a[:64].float() * sa) @ (b.float() * sb).t()
        note = self.check_close("fp8 tensorwise", self.scaled_mm(a, b.t(), sa, sb)[:64], want, 2e-2)
        for fast in (False, True):
            ms = self.measure(lambda: self.scaled_mm(a, b.t(), sa, sb, fast))
            self.record("fp8", f"_scaled_mm tensorwise fast_accum={fast}", f"M={m} N={n} K={k}", ms, 2 * m * n * k, note=note, m=m, n=n, k=k)

    def fp8_blockwise(self, m, n, k):
        """DeepSeek-V3's scaling (activations 1x128, weights 128x128): accepted by _scaled_mm in newer torch on sm_90."""
        torch = self.torch
        x, w = torch.randn(m, k, device=self.dev), torch.randn(n, k, device=self.dev)
        kb, nb = k // 128, n // 128
        sa = (x.view(m, kb, 128).abs().amax(-1) / E4M3_MAX).clamp(min=1e-12)                       # (M, K/128)
        sb = (w.view(nb, 128, kb, 128).abs().amax((1, 3)) / E4M3_MAX).clamp(min=1e-12)           # (N/128, K/128)
        a = (x.view(m, kb, 128) / sa[..., None]).view(m, k).to(self.fp8)
        b = (w.view(nb, 128, kb, 128) / sb[:, None, :, None]).view(n, k).to(self.fp8)
        # Scale layouts cuBLAS's blockwise mode expects: A's (M, K/128) outer-dim-major, B's as (K/128, N/128).
        sa_arg, sb_arg = sa.t().contiguous().t(), sb.t()
        got = self.scaled_mm(a, b.t(), sa_arg, sb_arg)
        want = ((a.float().view(m, kb, 128) * sa[..., None]).view(m, k)[:64]) @ (b.float().view(nb, 128, kb, 128) * sb[:, None, :, None]).view(n, k).t()
        note = self.check_close("fp8 blockwise", got[:64], want, 2e-2)
        ms = self.measure(lambda: self.scaled_mm(a, b.t(), sa_arg, sb_arg))
        self.record("fp8", "_scaled_mm blockwise 1x128/128x128", f"M={m} N={n} K={k}", ms, 2 * m * n * k, note=note, m=m, n=n, k=k)

    def dense(self, m, n, k, dtype, section):
        torch = self.torch
        a, b = torch.randn(m, k, device=self.dev, dtype=dtype), torch.randn(n, k, device=self.dev, dtype=dtype)
        bt = b.t()
        ms = self.measure(lambda: torch.matmul(a, bt))
        note = "TF32 off" if dtype == torch.float32 else ""
        self.record(section, f"matmul {section}", f"M={m} N={n} K={k}", ms, 2 * m * n * k, note=note, m=m, n=n, k=k)

    def grouped(self, groups, rows, n, k):
        torch = self.torch
        m = groups * rows
        a, sa = self.quantize_tensorwise(torch.randn(m, k, device=self.dev))
        ws = [self.quantize_tensorwise(torch.randn(n, k, device=self.dev)) for _ in range(groups)]
        shape, dims = f"G={groups} M/G={rows} N={n} K={k}", {"groups": groups, "m_per_group": rows, "m": m, "n": n, "k": k}
        grouped_mm = getattr(torch, "_scaled_grouped_mm", None)
        if grouped_mm is not None:
            try:
                # Rowwise scales, B as (G, K, N) column-major per group, offs = cumulative row ends (torch >= 2.8, sm_90).
                b = torch.stack([w for w, _ in ws]).transpose(-2, -1)
                scale_a = sa.expand(m).contiguous()
                scale_b = torch.stack([s.expand(n) for _, s in ws]).contiguous()
                offs = torch.arange(rows, m + 1, rows, device=self.dev, dtype=torch.int32)
                call = lambda: grouped_mm(a, b, scale_a, scale_b, offs=offs, out_dtype=torch.bfloat16)  # noqa: E731
                call()
                self.record("grouped", "_scaled_grouped_mm rowwise", shape, self.measure(call), 2 * m * n * k, **dims)
                return
            except (RuntimeError, TypeError, ValueError) as e:
                self.unsupported[f"_scaled_grouped_mm {shape}"] = " ".join(str(e).split())[:300]
        parts = [a[g * rows:(g + 1) * rows] for g in range(groups)]

        def loop():
            for g, (w, s) in enumerate(ws):
                self.scaled_mm(parts[g], w.t(), sa, s)

        self.record("grouped", "loop of _scaled_mm tensorwise", shape, self.measure(loop), 2 * m * n * k,
                    note="one launch per group (no grouped kernel in this torch)", **dims)

    def memcpy(self):
        torch = self.torch
        src = torch.empty(2**28, device=self.dev, dtype=torch.float32)   # 1 GiB
        dst = torch.empty_like(src)
        ms = self.measure(lambda: dst.copy_(src))
        self.record("memcpy", "copy_ device to device", "1 GiB", ms, nbytes=2 * src.numel() * 4, note="bytes read + written")

    def report(self, shapes_name):
        torch = self.torch
        return {
            "tool": "torch_reference.py",
            "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "torch_version": torch.__version__,
            "cuda_version": torch.version.cuda,
            "device": self.device,
            "shapes": shapes_name,
            "timing": f"CUDA events, median of {REPETITIONS} repetitions of back-to-back calls filling {self.target_ms} ms",
            "results": self.results,
            "unsupported": self.unsupported,
            "errors": self.errors,
        }


if __name__ == "__main__":
    sys.exit(main())
