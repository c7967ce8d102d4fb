#!/usr/bin/env bash
# shellcheck disable=SC2317  # the phase functions are called as "run_$p", which shellcheck cannot follow
# The GPU measurements of issue 9 in one command, on a machine with an NVIDIA GPU (sm_80 or newer), from anywhere:
#
#   benchmarks/Gpu/run-on-gpu.sh [tests] [kernels] [torch] [e2e]      (no phase named: all four, in that order)
#
#   tests    the GPU tests (GpuKernelTests, GpuModelTests, GpuBenchmarkTests); they skip only where no GPU opens,
#            and this script reports any skip as a failure of the phase
#   kernels  gpu-bench: fp8_gemm, fp8_gemm_grouped, gemm_w_bf16, mla_attend (each checked, then timed) -> gpu-bench.json
#   torch    torch_reference.py: torch._scaled_mm FP8, bf16/fp32 matmul, grouped, memcpy, same shapes -> torch.json
#   e2e      gpu-bench --sections e2e: greedy decode tokens/s on a random V2-Lite-sized model -> e2e.json
#            (and `deepseek bench --backend cuda` on the same checkpoint where a .NET SDK is installed -> cli-bench.json)
#
# Everything lands in $OUT (default ./gpu-results): run.log, env.txt, tests.log, gpu-bench.json, torch.json,
# e2e.json, summary.md (the README table, made by summarize.py) — at most 8 files, as the device tool returns them.
#
# .NET: with a .NET 10 SDK on PATH the script builds here. Without one (the device machines' image has none and cannot
# download) it needs .gpu-bundle/ from benchmarks/Gpu/pack.sh, carried along: the .NET runtime, vstest.console and the
# Release builds. Settings: SHAPES=deepseek|quick, E2E_LAYERS (27, V2-Lite's), E2E_DTYPE=bf16|fp8, E2E_DIR (where the
# synthesised checkpoint is kept between runs), PROMPT_TOKENS (128), GEN_TOKENS (64); FORCE_BUNDLE=1 uses .gpu-bundle even
# where an SDK is installed (how the no-SDK path is tested on a developer's machine).
# Exit: 0 all phases ok; 3 no usable GPU (or no CUDA torch); otherwise the first failing phase's code.
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root" || exit 1
OUT="${OUT:-$root/gpu-results}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
SHAPES="${SHAPES:-deepseek}"
E2E_LAYERS="${E2E_LAYERS:-27}"
E2E_DTYPE="${E2E_DTYPE:-bf16}"
E2E_DIR="${E2E_DIR:-/tmp/gpu-bench-v2-lite-$E2E_DTYPE-$E2E_LAYERS}"
PROMPT_TOKENS="${PROMPT_TOKENS:-128}"
GEN_TOKENS="${GEN_TOKENS:-64}"
GPU_TESTS="FullyQualifiedName~DeepSeek.Interop.Tests.Gpu.GpuKernelTests|FullyQualifiedName~DeepSeek.Interop.Tests.Gpu.GpuModelTests|FullyQualifiedName~DeepSeek.Interop.Tests.Gpu.GpuBenchmarkTests"
BENCH_DLL="$root/benchmarks/Gpu/bin/Release/net10.0/gpu-bench.dll"
TEST_DLL="$root/tests/Interop.Tests/bin/Release/net10.0/DeepSeek.Interop.Tests.dll"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

phases=("$@")
(( ${#phases[@]} )) || phases=(tests kernels torch e2e)
for p in "${phases[@]}"; do
    case "$p" in tests|kernels|torch|e2e) ;; *) echo "run-on-gpu.sh: unknown phase '$p' (tests, kernels, torch, e2e)" >&2; exit 2 ;; esac
done

exec > >(tee -a "$OUT/run.log") 2>&1
echo "== run-on-gpu.sh ${phases[*]} at $(date -u +%FT%TZ), results in $OUT"

{
    echo "date: $(date -u +%FT%TZ)"
    echo "commit: $(git -C "$root" rev-parse HEAD 2>/dev/null || echo unknown)"
    echo "uname: $(uname -a)"
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem --format=csv 2>&1 || echo "nvidia-smi: not found"
    python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available())' 2>&1 | tail -1
    command -v dotnet >/dev/null && dotnet --info 2>&1 | sed -n '1,12p' || echo "dotnet: not on PATH"
} > "$OUT/env.txt"
cat "$OUT/env.txt"

DOTNET=""
MODE=""
setup_dotnet() {
    [[ -n "$MODE" ]] && return 0
    if [[ "${FORCE_BUNDLE:-}" != 1 ]] && command -v dotnet >/dev/null && dotnet --list-sdks 2>/dev/null | grep -q '^10\.'; then
        MODE=sdk
        DOTNET=dotnet
        echo "== .NET SDK found: building Release"
        dotnet build -c Release benchmarks/Gpu/Gpu.Benchmarks.csproj -v quiet -nologo || return 1
        dotnet build -c Release tests/Interop.Tests/DeepSeek.Interop.Tests.csproj -v quiet -nologo || return 1
    elif [[ -f .gpu-bundle/dotnet.tar.xz && -f .gpu-bundle/apps.tar.xz ]]; then
        MODE=bundle
        local home=/tmp/gpu-bench-dotnet
        if [[ ! -x "$home/dotnet/dotnet" ]]; then
            mkdir -p "$home"
            untar .gpu-bundle/dotnet.tar.xz "$home" || return 1
        fi
        untar .gpu-bundle/apps.tar.xz "$root" || return 1
        # On PATH too: vstest starts the test host through a `dotnet` muxer.
        export DOTNET_ROOT="$home/dotnet" DOTNET_MULTILEVEL_LOOKUP=0 PATH="$home/dotnet:$PATH"
        DOTNET="$home/dotnet/dotnet"
        echo "== no .NET SDK here: using the carried .gpu-bundle (runtime $("$DOTNET" --list-runtimes | head -1))"
    else
        echo "run-on-gpu.sh: no .NET 10 SDK on PATH and no .gpu-bundle/ here: run benchmarks/Gpu/pack.sh where the SDK is and carry .gpu-bundle" >&2
        return 1
    fi
}

# tar -xJ needs the xz program; Python's lzma does the same where it is missing.
untar() {
    if command -v xz >/dev/null; then tar -xJf "$1" -C "$2"
    else python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' "$1" "$2"; fi
}

run_tests() {
    setup_dotnet || return 1
    local log="$OUT/tests.log" rc
    if [[ "$MODE" == sdk ]]; then
        dotnet test tests/Interop.Tests/DeepSeek.Interop.Tests.csproj -c Release --no-build --filter "$GPU_TESTS" \
            --logger "console;verbosity=normal" > "$log" 2>&1
    else
        "$DOTNET" "$DOTNET_ROOT/vstest/vstest.console.dll" "$TEST_DLL" "--TestCaseFilter:$GPU_TESTS" \
            "--logger:console;verbosity=normal" > "$log" 2>&1
    fi
    rc=$?
    tail -n 5 "$log"
    # The GPU tests skip, saying why, where no GPU opens: here a skip means the measurement did not happen.
    if grep -Eq 'Skipped:[[:space:]]*[1-9]|Skipped![[:space:]]' "$log"; then
        echo "GPU tests were SKIPPED (reason below): no usable GPU"
        grep -m 3 -iE 'no NVIDIA driver|no usable GPU|older than sm_80' "$log"
        return 3
    fi
    return "$rc"
}

run_kernels() {
    setup_dotnet || return 1
    "$DOTNET" "$BENCH_DLL" --shapes "$SHAPES" --json "$OUT/gpu-bench.json"
}

run_torch() {
    python3 benchmarks/Gpu/torch_reference.py --shapes "$SHAPES" --json "$OUT/torch.json"
}

run_e2e() {
    setup_dotnet || return 1
    local model=(--e2e-dir "$E2E_DIR") rc
    # Reused only when gpu-bench finished writing it (a call cut off by the time limit leaves no marker).
    [[ -f "$E2E_DIR/.synth-complete" ]] && model=(--e2e-model "$E2E_DIR")
    "$DOTNET" "$BENCH_DLL" --sections e2e --e2e-layers "$E2E_LAYERS" --e2e-dtype "$E2E_DTYPE" "${model[@]}" \
        --prompt-tokens "$PROMPT_TOKENS" --gen-tokens "$GEN_TOKENS" --json "$OUT/e2e.json"
    rc=$?
    if [[ $rc -eq 0 && "$MODE" == sdk ]]; then
        dotnet run --project src/Cli -c Release -- bench --backend cuda --model "$E2E_DIR" \
            --prompt-tokens "$PROMPT_TOKENS" --gen-tokens "$GEN_TOKENS" --runs 3 --json > "$OUT/cli-bench.json" || rc=$?
    fi
    return "$rc"
}

final=0
declare -A status
for p in "${phases[@]}"; do
    echo "== $p"
    start=$SECONDS
    "run_$p"
    rc=$?
    status[$p]="exit $rc after $((SECONDS - start)) s"
    echo "== $p: ${status[$p]}"
    (( final == 0 && rc != 0 )) && final=$rc
done

if command -v python3 >/dev/null; then
    python3 benchmarks/Gpu/summarize.py "$OUT" > "$OUT/summary.md" || echo "summarize.py failed"
fi
echo "== summary"
for p in "${phases[@]}"; do echo "$p: ${status[$p]}"; done
[[ -f "$OUT/summary.md" ]] && cat "$OUT/summary.md"
exit "$final"
