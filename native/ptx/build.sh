#!/usr/bin/env bash
# Regenerates the shipped PTX from the .cu sources: <module>.sm_<arch>.ptx for every module and target.
# Needs nvcc (CUDA 11.8 as Debian's non-free nvidia-cuda-toolkit, plus nvidia-cuda-dev's headers; see README.md).
# CUDA_HOME may point at an unpacked toolkit (default: /opt/cuda-11.8 when present, else nvcc on PATH).
set -euo pipefail
cd "$(dirname "$0")"
source ./toolkit.sh
find_nvcc || { echo "error: nvcc not found (set CUDA_HOME or see native/ptx/README.md)" >&2; exit 1; }
"$NVCC" --version | tail -1
for cu in *.cu; do
  module=${cu%.cu}
  for arch in $ARCHS; do
    out="$module.sm_$arch.ptx"
    # -lineinfo off, no -G: the PTX is what the driver JITs for every GPU of that family and newer.
    "$NVCC" "${NVCC_FLAGS[@]}" -ptx -arch="sm_$arch" -o "$out.tmp" "$cu"
    # Strip the build-path-dependent header lines so regenerating is reproducible.
    grep -v '^// Compiler Build ID\|^// Based on NVVM' "$out.tmp" > "$out"
    rm -f "$out.tmp"
    echo "  $out ($(wc -c < "$out") bytes)"
  done
done
