// Host emulation of the CUDA subset our kernels use, so the very .cu sources run on a CPU in tests (no GPU needed):
// blocks run one after another; the threads of a block are cooperative fibers (ucontext) that switch at
// __syncthreads(), which makes __shared__ (mapped to a function-local static) exactly block-shared memory. Warp
// shuffles go through a block-wide exchange, so they must be called by every thread of the block (ours are).
// It checks algorithms, indexing and barrier placement; it is not a model of GPU timing, memory ordering or the JIT.
#pragma once
#include <cmath>
#include <math.h>
#include <cstdint>
#include <cstring>

struct emu_dim3 { unsigned x, y, z; };
extern emu_dim3 threadIdx, blockIdx, blockDim, gridDim;

#define DS_EMULATOR 1

void emu_syncthreads();
float emu_exchange(float v, unsigned partner);
// Tensor-core instructions (common.cuh: ldmatrix_x4, mma_f16_16816) as block-wide collectives over warps of 32
// consecutive threads, with the PTX fragment layouts.
void emu_ldmatrix_x4(uint32_t r[4], const void* smem_row);
void emu_mma_f16_16816(float acc[4], const uint32_t a[4], const uint32_t b[2]);

#define __global__
#define __device__
#define __forceinline__ inline
#define __shared__ static
#define __align__(n) __attribute__((aligned(n)))
#define __syncthreads() emu_syncthreads()

inline float __uint_as_float(uint32_t u) { float f; std::memcpy(&f, &u, 4); return f; }
inline uint32_t __float_as_uint(float f) { uint32_t u; std::memcpy(&u, &f, 4); return u; }
inline float __int_as_float(int32_t i) { float f; std::memcpy(&f, &i, 4); return f; }
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fdiv_rn(float a, float b) { return a / b; }
inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
inline int min(int a, int b) { return a < b ? a : b; }
inline float __shfl_xor_sync(unsigned, float v, int lane_mask) { return emu_exchange(v, threadIdx.x ^ (unsigned)lane_mask); }




