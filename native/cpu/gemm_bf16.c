// libdeepseek_cpu: the CPU backend's optional native kernels (issue 5: prefill past the FP32 roofline).
//
// .NET 10 has no intrinsic for AVX512-BF16's vdpbf16ps (two bf16 products summed into each fp32 lane), which doubles
// the multiply-adds per instruction over fp32 FMA. This file provides it to CpuBackend.MatMul for BF16 weights at every
// row count (decode streams one weight row at a time, prefill runs register tiles; each output summed the same way);
// the managed kernels remain the always-available fallback and the reference the tests hold this one to.
//
// Built for the baseline ISA; only the kernels carry target("avx512bf16,..."), so the library loads on any x86-64
// (and compiles to stubs elsewhere) and the managed side asks ds_cpu_has_avx512bf16() before calling them.
//
// Math: out[t, j] = bias[j] + Σ_k bf16(x[t, k]) · w[j, k], products exact in fp32, sums in fp32 (vdpbf16ps adds the
// two products of a lane pair to the accumulator; order differs from the fp32 path, the rounding of x does not: x is
// rounded to bf16 once, to nearest even, by ds_f32_to_bf16).
#include "common.h"

// ABI version, bumped whenever an exported signature changes, so a stale library is refused rather than miscalled.
DS_EXPORT int ds_cpu_abi_version(void) { return 3; }

#if DS_X86

DS_EXPORT int ds_cpu_has_avx512bf16(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")
        && __builtin_cpu_supports("avx512bf16");
}

// rows × cols fp32 (row stride ldx floats) → bf16 (row stride ldd ≥ cols), round to nearest even; the ldd − cols
// padding after each row is zeroed so the GEMM may read whole 32-element groups.
DS_EXPORT DS_TARGET void ds_f32_to_bf16(const float* x, int rows, int cols, long ldx, uint16_t* dst, long ldd)
{
    for (int r = 0; r < rows; r++)
    {
        const float* s = x + (long)r * ldx;
        uint16_t* d = dst + (long)r * ldd;
        int c = 0;
        for (; c + 32 <= cols; c += 32)
        {
            __m512bh v = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(s + c + 16), _mm512_loadu_ps(s + c));
            _mm512_storeu_si512(d + c, (__m512i)v);
        }
        for (; c < ldd; c += 16)
        {
            int left = cols - c;
            __mmask16 m = left >= 16 ? 0xFFFF : left <= 0 ? 0 : (__mmask16)((1u << left) - 1);
            int room = (int)(ldd - c);
            __mmask16 st = room >= 16 ? 0xFFFF : (__mmask16)((1u << room) - 1);
            __m256bh v = _mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(m, s + c));
            _mm256_mask_storeu_epi16(d + c, st, (__m256i)v);
        }
    }
}

// One register tile: MR token rows × NR weight rows over k ∈ [k0, k1), MR·NR accumulators, reduced once at the end.
// accumulate: add to out (a later K chunk) rather than store. The tail of the chunk loads masked (never past k1).
// pf: the next panel's NR weight rows, fetched into L2 alongside, one line per row and step. With few token rows a
// panel is computed in about the time its bytes take to arrive, and without the prefetch the two do not overlap (the
// stride prefetchers pick up six 4 KiB-apart rows too late). Prefetches never fault, so the last panel may point past
// the weight.
DS_INLINE DS_TARGET void tile(const uint16_t* xb, long ldx, const uint16_t* w, long ldw, float* out, long ldo,
                              int k0, int k1, int accumulate, const int MR, const int NR, const uint16_t* pf)
{
    __m512 acc[4][6];
#pragma GCC unroll 4
    for (int t = 0; t < MR; t++)
#pragma GCC unroll 6
        for (int j = 0; j < NR; j++) acc[t][j] = _mm512_setzero_ps();
    int k = k0;
    for (; k + 32 <= k1; k += 32)
    {
        __m512bh xv[4];
#pragma GCC unroll 4
        for (int t = 0; t < MR; t++) xv[t] = (__m512bh)_mm512_loadu_si512(xb + t * ldx + k);
#pragma GCC unroll 6
        for (int j = 0; j < NR; j++)
        {
            __m512bh wv = (__m512bh)_mm512_loadu_si512(w + j * ldw + k);
            _mm_prefetch((const char*)(pf + j * ldw + k), _MM_HINT_T1);
#pragma GCC unroll 4
            for (int t = 0; t < MR; t++) acc[t][j] = _mm512_dpbf16_ps(acc[t][j], xv[t], wv);
        }
    }
    if (k < k1)
    {
        __mmask32 m = DS_MASK32(k1 - k);
        __m512bh xv[4];
#pragma GCC unroll 4
        for (int t = 0; t < MR; t++) xv[t] = (__m512bh)_mm512_maskz_loadu_epi16(m, xb + t * ldx + k);
#pragma GCC unroll 6
        for (int j = 0; j < NR; j++)
        {
            __m512bh wv = (__m512bh)_mm512_maskz_loadu_epi16(m, w + j * ldw + k);
#pragma GCC unroll 4
            for (int t = 0; t < MR; t++) acc[t][j] = _mm512_dpbf16_ps(acc[t][j], xv[t], wv);
        }
    }
#pragma GCC unroll 4
    for (int t = 0; t < MR; t++)
#pragma GCC unroll 6
        for (int j = 0; j < NR; j++)
        {
            float s = hsum(acc[t][j]);
            if (accumulate) out[t * ldo + j] += s;
            else out[t * ldo + j] = s;
        }
}

#define DS_MR 4
#define DS_NR 6

// All token rows for NR weight rows: full MR tiles, then the last 1..MR−1 rows. Every tile pass prefetches the next
// panel (the rows after these NR): asking again in each pass, rather than in the first only, took 12-row expert GEMMs
// from 19 to 13.5 ms per 64 matrices (27 GB/s, the stream's speed) — L2 drops prefetches it has no room to track.
DS_INLINE DS_TARGET void panel(const uint16_t* xb, int m, long ldx, const uint16_t* w, long ldw, float* out, long ldo,
                               int k0, int k1, int acc, const int NR)
{
    const uint16_t* pf = w + NR * ldw;
    int t = 0;
    for (; t + DS_MR <= m; t += DS_MR) tile(xb + t * ldx, ldx, w, ldw, out + t * ldo, ldo, k0, k1, acc, DS_MR, NR, pf);
    switch (m - t)
    {
        case 3: tile(xb + t * ldx, ldx, w, ldw, out + t * ldo, ldo, k0, k1, acc, 3, NR, pf); break;
        case 2: tile(xb + t * ldx, ldx, w, ldw, out + t * ldo, ldo, k0, k1, acc, 2, NR, pf); break;
        case 1: tile(xb + t * ldx, ldx, w, ldw, out + t * ldo, ldo, k0, k1, acc, 1, NR, pf); break;
        default: break;
    }
}

// One or two token rows (a decode step, a speculative pair): one weight row at a time, streamed once in memory order,
// because there is too little work per byte to hide six interleaved 4 KiB row streams. From three rows on the panels
// win (best of 5, 2 threads, 64 expert matrices 1408 × 2048: 3 rows 10.7 vs 15.5 ms, 8 rows 15.6 vs 38.5 ms — eight
// rows through this loop ran at ~2 cycles per vdpbf16ps even from cache, and never overlapped the stream).
// Each output is summed exactly as in tile() (the same 32-wide chunks, K chunks and hsum), so a token's result does
// not depend on how many rows share the matmul or which path ran.
#define DS_MR_SMALL 2
DS_INLINE DS_TARGET void row_tile(const uint16_t* xb, long ldx, const uint16_t* w, float* out, long ldo,
                                  int k0, int k1, int accumulate, const int MR)
{
    __m512 acc[DS_MR_SMALL];
#pragma GCC unroll 2
    for (int t = 0; t < MR; t++) acc[t] = _mm512_setzero_ps();
    int k = k0;
    for (; k + 32 <= k1; k += 32)
    {
        __m512bh wv = (__m512bh)_mm512_loadu_si512(w + k);
#pragma GCC unroll 2
        for (int t = 0; t < MR; t++) acc[t] = _mm512_dpbf16_ps(acc[t], (__m512bh)_mm512_loadu_si512(xb + t * ldx + k), wv);
    }
    if (k < k1)
    {
        __mmask32 m = DS_MASK32(k1 - k);
        __m512bh wv = (__m512bh)_mm512_maskz_loadu_epi16(m, w + k);
#pragma GCC unroll 2
        for (int t = 0; t < MR; t++) acc[t] = _mm512_dpbf16_ps(acc[t], (__m512bh)_mm512_maskz_loadu_epi16(m, xb + t * ldx + k), wv);
    }
#pragma GCC unroll 2
    for (int t = 0; t < MR; t++)
    {
        float s = hsum(acc[t]);
        if (accumulate) out[t * ldo] += s;
        else out[t * ldo] = s;
    }
}

DS_INLINE DS_TARGET void small_gemm(const uint16_t* xb, int m, int k, long ldx, const uint16_t* w, long ldw, float* out, long ldo,
                                    int j0, int j1)
{
    for (int j = j0; j < j1; j++)
        for (int k0 = 0; k0 < k || k0 == 0; k0 += DS_KC)
        {
            int k1 = k - k0 < DS_KC ? k : k0 + DS_KC;
            const uint16_t* wj = w + (long)j * ldw;
            if (m == 1) row_tile(xb, ldx, wj, out + j, ldo, k0, k1, k0 > 0, 1);
            else row_tile(xb, ldx, wj, out + j, ldo, k0, k1, k0 > 0, 2);
            if (k == 0) break;
        }
}

// out[t, j] (row stride ldo floats) = bias[j] + Σ_k xb[t, k] · w[j, k] for t < m, j ∈ [j0, j1).
// xb: bf16 [m, k] with row stride ldx (from ds_f32_to_bf16); w: bf16 [n, k] row-major, row stride ldw; bias may be null.
DS_EXPORT DS_TARGET void ds_gemm_bf16(const uint16_t* xb, int m, int k, long ldx, const uint16_t* w, long ldw,
                                      const float* bias, float* out, long ldo, int j0, int j1)
{
    if (m <= DS_MR_SMALL)
    {
        if (m > 0) small_gemm(xb, m, k, ldx, w, ldw, out, ldo, j0, j1);
        ds_add_bias(out, ldo, m, j0, j1, bias);
        return;
    }
    for (int t0 = 0; t0 < m; t0 += DS_TC)
    {
        int tm = m - t0 < DS_TC ? m - t0 : DS_TC;
        const uint16_t* xt = xb + (long)t0 * ldx;
        float* ot = out + (long)t0 * ldo;
        for (int k0 = 0; k0 < k || k0 == 0; k0 += DS_KC)
        {
            int k1 = k - k0 < DS_KC ? k : k0 + DS_KC;
            int acc = k0 > 0;
            int j = j0;
            for (; j + DS_NR <= j1; j += DS_NR) panel(xt, tm, ldx, w + (long)j * ldw, ldw, ot + j, ldo, k0, k1, acc, DS_NR);
            switch (j1 - j)
            {
                case 5: panel(xt, tm, ldx, w + (long)j * ldw, ldw, ot + j, ldo, k0, k1, acc, 5); break;
                case 4: panel(xt, tm, ldx, w + (long)j * ldw, ldw, ot + j, ldo, k0, k1, acc, 4); break;
                case 3: panel(xt, tm, ldx, w + (long)j * ldw, ldw, ot + j, ldo, k0, k1, acc, 3); break;
                case 2: panel(xt, tm, ldx, w + (long)j * ldw, ldw, ot + j, ldo, k0, k1, acc, 2); break;
                case 1: panel(xt, tm, ldx, w + (long)j * ldw, ldw, ot + j, ldo, k0, k1, acc, 1); break;
                default: break;
            }
            if (k == 0) break;
        }
    }
    ds_add_bias(out, ldo, m, j0, j1, bias);
}

// Peak probe for the bench's roofline: 12 independent vdpbf16ps chains (enough to cover its latency on two pipes),
// `iterations` rounds; each instruction is 16 lanes × 2 multiply-adds = 64 FLOPs. Returns a sum so nothing is elided.
DS_EXPORT DS_TARGET float ds_bf16_dot_probe(long iterations)
{
    __m512 acc[12];
    for (int j = 0; j < 12; j++) acc[j] = _mm512_setzero_ps();
    __m512bh a = (__m512bh)_mm512_set1_epi16(0x3F80);   // 1.0
    __m512bh b = (__m512bh)_mm512_set1_epi16(0x3A83);   // ~0.001
    for (long i = 0; i < iterations; i++)
    {
#pragma GCC unroll 12
        for (int j = 0; j < 12; j++) acc[j] = _mm512_dpbf16_ps(acc[j], a, b);
        __asm__ volatile("" : "+v"(a));   // keep the loop honest: a is "changed" every round
    }
    __m512 s = acc[0];
    for (int j = 1; j < 12; j++) s = _mm512_add_ps(s, acc[j]);
    return _mm512_reduce_add_ps(s);
}

#else

DS_EXPORT int ds_cpu_has_avx512bf16(void) { return 0; }

DS_EXPORT float ds_bf16_dot_probe(long iterations) { (void)iterations; return 0; }

DS_EXPORT void ds_f32_to_bf16(const float* x, int rows, int cols, long ldx, uint16_t* dst, long ldd)
{
    (void)x; (void)rows; (void)cols; (void)ldx; (void)dst; (void)ldd;
}

DS_EXPORT void ds_gemm_bf16(const uint16_t* xb, int m, int k, long ldx, const uint16_t* w, long ldw,
                            const float* bias, float* out, long ldo, int j0, int j1)
{
    (void)xb; (void)m; (void)k; (void)ldx; (void)w; (void)ldw; (void)bias; (void)out; (void)ldo; (void)j0; (void)j1;
}

#endif
