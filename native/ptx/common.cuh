// Shared device helpers for DeepSeek.Runtime's kernels. No CUDA runtime headers: the kernels are loaded as PTX
// through the driver API, so only builtins and inline PTX are used here. Inline PTX sits behind __CUDA_ARCH__ with a
// portable fallback, so the same sources also build on the host for the kernel emulator (emulator/emu.h).
#pragma once
#include <stdint.h>

#define DS_KERNEL extern "C" __global__

// Weight storage codes, the same numbers the host passes (CudaWeight.DTypeCode).
#define DS_W_F32 0
#define DS_W_BF16 1
#define DS_W_F16 2
#define DS_W_FP8 3

// FP8 E4M3FN → fp32, exact. The hardware conversion cvt.rn.f16x2.e4m3x2 (PTX ISA 7.8; every E4M3 value is exact in
// f16, and f16 → f32 is exact) is specified for sm_89, but CUDA 11.8's ptxas accepts it only for .target sm_90+
// ("Feature 'cvt with .e4m3x2/.e5m2x2' requires .target sm_90 or higher"), so sm_80 and sm_89 decode with integer
// ops: sign | exponent (bias 7) | 3-bit mantissa, exponent 0 holds subnormals m·2^-9, 0x7F/0xFF are NaN.
// (With a CUDA 12.1+ toolchain, PTX ISA 8.1, the sm_89 build can take the cvt path too.)
__device__ __forceinline__ float fp8_e4m3_to_float(uint32_t code)
{
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    float r;
    unsigned short in = (unsigned short)(code & 0xFFu);
    asm("{\n\t.reg .b16 lo, hi;\n\t.reg .b32 pair;\n\t"
        "cvt.rn.f16x2.e4m3x2 pair, %1;\n\t"
        "mov.b32 {lo, hi}, pair;\n\t"
        "cvt.f32.f16 %0, lo;\n\t}"
        : "=f"(r) : "h"(in));
    return r;
#else
    uint32_t sign = (code & 0x80u) << 24;
    uint32_t e = (code >> 3) & 0xFu;
    uint32_t m = code & 7u;
    if (e == 0xFu && m == 7u) return __uint_as_float(0x7FC00000u | sign);
    if (e == 0u) return __uint_as_float(__float_as_uint((float)m * 0.001953125f) | sign);
    return __uint_as_float(sign | ((e + 120u) << 23) | (m << 20));
#endif
}

// fp32 → FP8 E4M3FN code, round to nearest even, saturating to ±448, NaN → 0x7F/0xFF: bit-identical to the host
// codec (Float8E4M3Codec.FromSingle), which the CPU twin of the FP8 GEMM uses. sm_90 uses cvt.rn.satfinite (see above).
__device__ __forceinline__ uint32_t float_to_fp8_e4m3(float v)
{
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    unsigned short out;
    asm("cvt.rn.satfinite.e4m3x2.f32 %0, %1, %2;" : "=h"(out) : "f"(0.0f), "f"(v));
    return (uint32_t)out & 0xFFu;
#else
    uint32_t bits = __float_as_uint(v);
    uint32_t sign = (bits >> 24) & 0x80u;
    uint32_t a = bits & 0x7FFFFFFFu;
    if (a > 0x7F800000u) return sign | 0x7Fu;
    if (a >= 0x43E00000u) return sign | 0x7Eu;
    if (a >= 0x3C800000u)
    {
        uint32_t adj = a - ((127u - 7u) << 23);
        return sign | ((adj + 0x7FFFFu + ((adj >> 20) & 1u)) >> 20);
    }
    // |v| < 2^-6: adding 2^14 (ulp 2^-9) rounds to a multiple of 2^-9, ties to even.
    uint32_t r = __float_as_uint(__fadd_rn(__uint_as_float(a), 16384.0f)) - 0x46800000u;
    return sign | r;
#endif
}

__device__ __forceinline__ float bf16_to_float(uint16_t v) { return __uint_as_float(((uint32_t)v) << 16); }

__device__ __forceinline__ float f16_to_float(uint16_t v)
{
#if defined(__CUDA_ARCH__)
    float r;
    asm("cvt.f32.f16 %0, %1;" : "=f"(r) : "h"(v));
    return r;
#else
    // Host build (the kernel emulator): IEEE half → float by bits.
    uint32_t sign = (uint32_t)(v & 0x8000u) << 16, e = (v >> 10) & 0x1Fu, m = v & 0x3FFu;
    if (e == 0x1Fu) return __uint_as_float(sign | 0x7F800000u | (m << 13));
    if (e == 0u) return __uint_as_float(__float_as_uint((float)m * 5.9604644775390625e-8f) | sign);
    return __uint_as_float(sign | ((e + 112u) << 23) | (m << 13));
#endif
}

// One stored weight [rows, cols] (row-major, as in the checkpoint) and, for block FP8, its scale_inv grid.
struct WeightRef
{
    const void* data;
    const float* scale;
    int cols;
    int scale_cols;
    int block_rows;
    int block_cols;
};

template <int DT>
__device__ __forceinline__ float load_weight(const WeightRef& w, long long r, int c)
{
    long long i = r * (long long)w.cols + c;
    if (DT == DS_W_F32) return ((const float*)w.data)[i];
    if (DT == DS_W_BF16) return bf16_to_float(((const uint16_t*)w.data)[i]);
    if (DT == DS_W_F16) return f16_to_float(((const uint16_t*)w.data)[i]);
    // Block FP8: code × scale_inv of its block (one rounding, as the CPU backend decodes a row).
    float s = w.scale[(r / w.block_rows) * (long long)w.scale_cols + c / w.block_cols];
    return fp8_e4m3_to_float(((const uint8_t*)w.data)[i]) * s;
}

__device__ __forceinline__ float warp_sum(float v)
{
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xFFFFFFFFu, v, o);
    return v;
}

__device__ __forceinline__ float warp_max(float v)
{
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xFFFFFFFFu, v, o));
    return v;
}

// Sum over the block (blockDim.x a multiple of 32, ≤ 1024); every thread gets the result. `scratch` holds 32 floats.
__device__ __forceinline__ float block_sum(float v, float* scratch)
{
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    v = warp_sum(v);
    __syncthreads();
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    float t = lane < warps ? scratch[lane] : 0.0f;
    return warp_sum(t);
}

__device__ __forceinline__ float block_max(float v, float* scratch)
{
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    v = warp_max(v);
    __syncthreads();
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    float t = lane < warps ? scratch[lane] : -3.402823466e38f;
    return warp_max(t);
}

// ---------------------------------------------------------------------------------------------------------------
// Tensor-core helpers (sm_80+, PTX ISA 7.0+). Warp-collective: every lane of the warp executes them together. In the
// kernel emulator (DS_EMULATOR) they are block-wide collectives, like the shuffles there: every thread of the block
// must call them, in the same order (emulator/emu.cpp reproduces the fragment layouts below exactly).
//
// FP8 E4M3 → F16 by bits, two codes at a time (bits 0-7 and 16-23 of x → the two halves of an f16x2): the code's
// exponent and mantissa fields, shifted into f16's, give value·2^-8 exactly — f16's exponent bias (15) is E4M3's (7)
// plus 8, and E4M3's subnormals (m·2^-9) land on f16 subnormals (m·2^-17) — so every E4M3 value is exact, and a
// product of two is the true product ·2^-16 (the GEMM folds 2^16 into its promotion scale). NaN codes (low 7 bits
// 0x7F) become f16 NaN: +1 carries into bit 7 only for them, and that bit shifted by 7 completes the exponent.
// About 6 integer operations per two codes, against ~10 per code for the fp32 decode above.
__device__ __forceinline__ uint32_t fp8x2_to_f16x2_scaled(uint32_t x)
{
    uint32_t mag = x & 0x007F007Fu;
    uint32_t nan = (mag + 0x00010001u) & 0x00800080u;
    return (mag << 7) | ((x & 0x00800080u) << 8) | (nan << 7);
}

// ldmatrix.sync.aligned.m8n8.x4.shared.b16 (PTX ISA "Warp-level matrix load instruction: ldmatrix"): lanes 8·i … 8·i+7
// give the addresses of the 8 rows (16 bytes each, 16-byte aligned, in shared memory) of matrix i; lane l receives in
// r[i] row l/4 of matrix i, elements 2·(l%4) (low half) and 2·(l%4)+1 (high half).
__device__ __forceinline__ void ldmatrix_x4(uint32_t r[4], const void* smem_row)
{
#if defined(__CUDA_ARCH__)
    uint32_t addr;
    asm("{\n\t.reg .u64 s;\n\tcvta.to.shared.u64 s, %1;\n\tcvt.u32.u64 %0, s;\n\t}" : "=r"(addr) : "l"(smem_row));
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(addr) : "memory");
#elif defined(DS_EMULATOR)
    emu_ldmatrix_x4(r, smem_row);
#endif
}

// acc (16×8 f32) += A (16×16 f16, row-major) · B (16×8 f16, column-major):
// mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 (bf16 has the same layouts), fragments as the PTX ISA section "Matrix Fragments for
// mma.m16n8k16 with floating point type" (§9.7.14.5.8 in the 8.x manuals) lays them out (g = lane>>2, t = lane%4; low half = lower index):
//   A: a[0] = (row g, cols 2t, 2t+1), a[1] = (row g+8, cols 2t, 2t+1), a[2] = (row g, cols 2t+8, 2t+9), a[3] = (row g+8, cols 2t+8, 2t+9)
//   B: b[0] = (rows k = 2t, 2t+1; col g), b[1] = (rows k = 2t+8, 2t+9; col g)
//   C/D: acc[0], acc[1] = (row g, cols 2t, 2t+1), acc[2], acc[3] = (row g+8, cols 2t, 2t+1)
// Products of two f16 values are exact in fp32; the tensor core sums them into the fp32 accumulator in an unspecified order.
__device__ __forceinline__ void mma_f16_16816(float acc[4], const uint32_t a[4], const uint32_t b[2])
{
#if defined(__CUDA_ARCH__)
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};"
                 : "+f"(acc[0]), "+f"(acc[1]), "+f"(acc[2]), "+f"(acc[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
#elif defined(DS_EMULATOR)
    emu_mma_f16_16816(acc, a, b);
#endif
}
