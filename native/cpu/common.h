// Shared by the kernels of libdeepseek_cpu (gemm_bf16.c, gemm_fp8.c): export and target attributes, the lane sum, and
// the blocking every GEMM uses — kept in one place because the BF16 and FP8 GEMMs must sum each output the same way
// on their one-row and tiled paths (see gemm_bf16.c).
#pragma once
#include <stddef.h>
#include <stdint.h>

#define DS_EXPORT __attribute__((visibility("default")))

#if defined(__x86_64__) && defined(__GNUC__)
#define DS_X86 1
#include <immintrin.h>

#define DS_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16")))
#define DS_INLINE static inline __attribute__((always_inline))

// Sum of the 16 lanes (fixed order).
DS_INLINE DS_TARGET float hsum(__m512 v)
{
    __m256 a = _mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
    __m128 b = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    b = _mm_add_ps(b, _mm_movehl_ps(b, b));
    b = _mm_add_ss(b, _mm_movehdup_ps(b));
    return _mm_cvtss_f32(b);
}
#else
#define DS_X86 0
#endif

// Token rows per cache block (x block of TC rows × KC bf16 stays in L2 while every weight panel of the part passes),
// K per chunk (a panel of weight rows × KC stays in L1 while every token tile passes). Each output is summed per K
// chunk and the chunk sums added in order, on every path.
#ifndef DS_TC
#define DS_TC 64
#endif
#ifndef DS_KC
#define DS_KC 2048
#endif

// out[t, j] += bias[j] for t < m, j ∈ [j0, j1): both GEMMs add the bias after the whole sum (bias may be null).
static inline void ds_add_bias(float* out, long ldo, int m, int j0, int j1, const float* bias)
{
    if (!bias) return;
    for (int t = 0; t < m; t++)
        for (int j = j0; j < j1; j++) out[(long)t * ldo + j] += bias[j];
}

// Mask of the first n (0..32) of 32 lanes.
#define DS_MASK32(n) ((n) >= 32 ? 0xFFFFFFFFu : (__mmask32)((1u << (n)) - 1))
