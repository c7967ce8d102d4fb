# Sourced by build.sh and check.sh: where the CUDA 11.8 tools are and which targets we ship.
ARCHS="80 89 90"
# The Debian toolkit's g++ wrapper looks for g++-11 and older; Debian 12 has g++ 12, which works for -ptx, so name
# the compiler by absolute path before PATH gains the wrapper.
NVCC_FLAGS=(-ccbin "$(command -v "${CXX:-g++}")" -allow-unsupported-compiler -std=c++14 -O3)

_roots() {
  [[ -n "${CUDA_HOME:-}" ]] && echo "$CUDA_HOME"
  echo /opt/cuda-11.8/usr
  echo /usr
  echo /usr/local/cuda
}

find_ptxas() {
  PTXAS=""
  for root in $(_roots); do
    [[ -x "$root/bin/ptxas" ]] && { PTXAS="$root/bin/ptxas"; return 0; }
  done
  command -v ptxas >/dev/null 2>&1 && { PTXAS=$(command -v ptxas); return 0; }
  return 1
}

find_nvcc() {
  NVCC=""
  for root in $(_roots); do
    # Debian layout: the real driver binary and its cicc live in lib/nvidia-cuda-toolkit/bin.
    if [[ -x "$root/lib/nvidia-cuda-toolkit/bin/nvcc" ]]; then
      NVCC="$root/lib/nvidia-cuda-toolkit/bin/nvcc"
      export PATH="$root/lib/nvidia-cuda-toolkit/bin:$root/bin:$PATH"
      return 0
    fi
    [[ -x "$root/bin/nvcc" ]] && { NVCC="$root/bin/nvcc"; export PATH="$root/bin:$PATH"; return 0; }
  done
  return 1
}
