#!/usr/bin/env bash
# Assembles every shipped .ptx with ptxas for the target named in its file name (and its .target line), so a
# module that would fail to JIT on a user's GPU fails here instead. Skips, visibly, when ptxas is not installed.
set -euo pipefail
cd "$(dirname "$0")"
source ./toolkit.sh
if ! find_ptxas; then
  echo "SKIPPED: ptxas not found (install Debian non-free nvidia-cuda-toolkit or set CUDA_HOME); shipped PTX not assembled."
  exit 0
fi
"$PTXAS" --version | tail -1
shopt -s nullglob
status=0
count=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for ptx in *.ptx; do
  arch=${ptx##*.sm_}; arch=${arch%.ptx}
  if ! grep -q "^\.target sm_$arch\b" "$ptx"; then
    echo "FAIL $ptx: .target line does not say sm_$arch" >&2; status=1; continue
  fi
  if "$PTXAS" -arch="sm_$arch" -O3 -o "$tmp/out.cubin" "$ptx" 2> "$tmp/err"; then
    count=$((count + 1))
  else
    echo "FAIL $ptx:" >&2; cat "$tmp/err" >&2; status=1
  fi
done
# Every module must ship for every target.
for cu in *.cu; do
  for arch in $ARCHS; do
    [[ -f "${cu%.cu}.sm_$arch.ptx" ]] || { echo "FAIL: ${cu%.cu}.sm_$arch.ptx missing (run build.sh)" >&2; status=1; }
  done
done
echo "ptxas: $count PTX modules assembled"
exit $status
