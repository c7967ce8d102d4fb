// Block-scaled FP8 (E4M3) GEMM on AVX512-BF16 (issue 5: FP8 decode at its bandwidth bound, FP8 prefill past fp32).
//
// Every E4M3 value, subnormals included, is exactly a bf16 value, so the codes are widened to bf16 in registers (no
// dequantised copy, no rounding) and multiplied by bf16 activations with vdpbf16ps, like gemm_bf16.c. The 128×128
// (in general blockRows × blockCols) scale applies per scale block: each block's products are summed on their own,
// then scaled into the running total.
//
// Math, for every output: out[t, j] = bias[j] + Σ_chunks hsum(T), T = Σ_b (Σ_{k ∈ b} bf16(x[t,k])·e4m3(w[j,k]))·s[j,b]
// — 16 fp32 lanes per block sum (32-wide steps, vdpbf16ps), T lane-wise with one FMA per block, chunks of DS_KC
// columns reduced by hsum and added in order. The one/two-row path and the tiles compute exactly this, so a token's
// result does not depend on how many rows share the matmul (what keeps speculative and batched decoding equal to
// plain decoding).
#include "common.h"

#if DS_X86

// These kernels also need AVX512-VBMI (vpermi2b: a 128-entry byte lookup), which every avx512bf16 CPU but Cooper Lake
// has; the managed side asks ds_cpu_has_fp8_kernels() first.
#define DS_TARGET_FP8 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16,avx512vbmi")))

DS_EXPORT int ds_cpu_has_fp8_kernels(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")
        && __builtin_cpu_supports("avx512bf16") && __builtin_cpu_supports("avx512vbmi");
}

// bf16 bits of the 128 E4M3 magnitudes (codes 0x00..0x7F), high and low bytes: 0, the subnormals m·2^-9, the normals
// 2^(e-7)·(1 + m/8), and NaN for 0x7F.
static uint8_t k_fp8_hi[128] __attribute__((aligned(64)));
static uint8_t k_fp8_lo[128] __attribute__((aligned(64)));

__attribute__((constructor)) static void fp8_tables(void)
{
    for (int c = 0; c < 128; c++)
    {
        int e = c >> 3, m = c & 7;
        uint16_t b;
        if (c == 0x7F) b = 0x7FC0;
        else if (e == 0)
        {
            // m·2^-9 = 2^(p-9)·(m / 2^p) with p the position of m's top bit: exponent p − 9, mantissa the rest.
            int p = m >= 4 ? 2 : m >= 2 ? 1 : 0;
            b = m == 0 ? 0 : (uint16_t)(((127 - 9 + p) << 7) | (((m << (7 - p)) & 0x7F)));
        }
        else b = (uint16_t)(((e + 120) << 7) | (m << 4));
        k_fp8_hi[c] = (uint8_t)(b >> 8);
        k_fp8_lo[c] = (uint8_t)b;
    }
}

// 32 E4M3 codes → their exact bf16 values, in order; the NaN codes give NaN. Two 128-entry byte lookups (vpermi2b
// ignores the sign bit of the index), each 128-bit lane holding 8 codes so that unpacking low and high bytes gives
// 16-bit values in the codes' order, and the sign bit copied to bit 15.
DS_INLINE DS_TARGET_FP8 __m512bh fp8_to_bf16(__m256i codes)
{
    const __m512i spread = _mm512_permutexvar_epi64(_mm512_set_epi64(3, 3, 2, 2, 1, 1, 0, 0), _mm512_castsi256_si512(codes));
    const __m512i hi = _mm512_permutex2var_epi8(_mm512_load_si512(k_fp8_hi), spread, _mm512_load_si512(k_fp8_hi + 64));
    const __m512i lo = _mm512_permutex2var_epi8(_mm512_load_si512(k_fp8_lo), spread, _mm512_load_si512(k_fp8_lo + 64));
    const __m512i signed_hi = _mm512_ternarylogic_epi32(hi, spread, _mm512_set1_epi8((char)0x80), 0xD8);
    return (__m512bh)_mm512_unpacklo_epi8(lo, signed_hi);
}

DS_INLINE DS_TARGET_FP8 __m512 block_scale(const float* scales, int block) { return _mm512_set1_ps(scales[block] * 0x1p-120f); }

// Accumulator chains of the streaming path: R weight rows × MR token rows.
#define F8_ROWS_MAX 8

// R weight rows (codes converted as they stream) for MR token rows over [k0, k1): decode steps and small batches.
// R rows at once give R·MR independent accumulator chains, without changing any output's sum. scales[r]: row r's
// block scales × 2^120 (CpuWeight's in-place FP8 layout; × 2^-120 is exact). The next R rows are prefetched into L2.
DS_INLINE DS_TARGET_FP8 void fp8_rows(const uint16_t* xb, long ldx, const uint8_t* w, long ldw, const float* const* scales, int bc,
                                  float* out, long ldo, int k0, int k1, int accumulate, const int MR, const int R)
{
    __m512 total[F8_ROWS_MAX];
#pragma GCC unroll 8
    for (int i = 0; i < MR * R; i++) total[i] = _mm512_setzero_ps();
    for (int kb = k0; kb < k1; kb += bc)
    {
        int ke = kb + bc < k1 ? kb + bc : k1;
        __m512 acc[F8_ROWS_MAX];
#pragma GCC unroll 8
        for (int i = 0; i < MR * R; i++) acc[i] = _mm512_setzero_ps();
        int k = kb;
        for (; k + 32 <= ke; k += 32)
        {
            __m512bh xv[F8_ROWS_MAX];
#pragma GCC unroll 4
            for (int t = 0; t < MR; t++) xv[t] = (__m512bh)_mm512_loadu_si512(xb + t * ldx + k);
#pragma GCC unroll 4
            for (int r = 0; r < R; r++)
            {
                __m512bh wv = fp8_to_bf16(_mm256_loadu_si256((const __m256i*)(w + r * ldw + k)));
                _mm_prefetch((const char*)(w + (R + r) * ldw + k), _MM_HINT_T1);
#pragma GCC unroll 4
                for (int t = 0; t < MR; t++) acc[r * MR + t] = _mm512_dpbf16_ps(acc[r * MR + t], xv[t], wv);
            }
        }
        if (k < ke)
        {
            __mmask32 m = DS_MASK32(ke - k);
            __m512bh xv[F8_ROWS_MAX];
#pragma GCC unroll 4
            for (int t = 0; t < MR; t++) xv[t] = (__m512bh)_mm512_maskz_loadu_epi16(m, xb + t * ldx + k);
#pragma GCC unroll 4
            for (int r = 0; r < R; r++)
            {
                __m512bh wv = fp8_to_bf16(_mm256_maskz_loadu_epi8(m, w + r * ldw + k));
#pragma GCC unroll 4
                for (int t = 0; t < MR; t++) acc[r * MR + t] = _mm512_dpbf16_ps(acc[r * MR + t], xv[t], wv);
            }
        }
#pragma GCC unroll 4
        for (int r = 0; r < R; r++)
        {
            __m512 s = block_scale(scales[r], kb / bc);
#pragma GCC unroll 4
            for (int t = 0; t < MR; t++) total[r * MR + t] = _mm512_fmadd_ps(acc[r * MR + t], s, total[r * MR + t]);
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < R; r++)
#pragma GCC unroll 4
        for (int t = 0; t < MR; t++)
        {
            float s = hsum(total[r * MR + t]);
            if (accumulate) out[t * ldo + r] += s;
            else out[t * ldo + r] = s;
        }
}

// Token rows up to which the weight rows stream (fp8_rows); from F8_ROWS_MAX_M + 1 on, panels are converted once and
// shared by register tiles.
#define F8_ROWS_MAX_M 4

#define F8_ROWS(MR_, R_) fp8_rows(xb, ldx, w + (long)j * ldw, ldw, sr, bc, out + j, ldo, k0, k1, k0 > 0, MR_, R_)

// Weight rows [j0, j1) for m ≤ F8_ROWS_MAX_M token rows: groups of 8 / m rows (4, 4, 2, 2), then the rest one by one.
DS_INLINE DS_TARGET_FP8 void fp8_small(const uint16_t* xb, int m, int k, long ldx, const uint8_t* w, long ldw,
                                   const float* scales, int gridCols, int blockRows, int bc, float* out, long ldo, int j0, int j1)
{
    const int group = m <= 2 ? 4 : 2;
    for (int j = j0; j < j1;)
    {
        int r = j1 - j >= group ? group : 1;
        const float* sr[4];
        for (int i = 0; i < r; i++) sr[i] = scales + (long)((j + i) / blockRows) * gridCols;
        for (int k0 = 0; k0 < k || k0 == 0; k0 += DS_KC)
        {
            int k1 = k - k0 < DS_KC ? k : k0 + DS_KC;
            switch (m * 8 + r)
            {
                case 1 * 8 + 4: F8_ROWS(1, 4); break;
                case 2 * 8 + 4: F8_ROWS(2, 4); break;
                case 3 * 8 + 2: F8_ROWS(3, 2); break;
                case 4 * 8 + 2: F8_ROWS(4, 2); break;
                case 1 * 8 + 1: F8_ROWS(1, 1); break;
                case 2 * 8 + 1: F8_ROWS(2, 1); break;
                case 3 * 8 + 1: F8_ROWS(3, 1); break;
                default: F8_ROWS(4, 1); break;
            }
            if (k == 0) break;
        }
        j += r;
    }
}

#define F8_MR 4
#define F8_NR 3
// Row stride of the converted panel: a line more than DS_KC, so its rows and the 4 KiB-apart token rows do not all
// fall in one L1 set.
#define F8_LD (DS_KC + 32)

// NR weight rows' codes over [k0, k1) → bf16 rows of buf (row stride F8_LD, column k − k0), zero past k1.
DS_INLINE DS_TARGET_FP8 void fp8_panel_to_bf16(const uint8_t* w, long ldw, int k0, int k1, uint16_t* buf, int nr)
{
    for (int j = 0; j < nr; j++)
    {
        const uint8_t* r = w + j * ldw;
        uint16_t* d = buf + j * F8_LD;
        int k = k0;
        for (; k + 32 <= k1; k += 32)
            _mm512_store_si512(d + (k - k0), (__m512i)fp8_to_bf16(_mm256_loadu_si256((const __m256i*)(r + k))));
        if (k < k1) _mm512_store_si512(d + (k - k0), (__m512i)fp8_to_bf16(_mm256_maskz_loadu_epi8(DS_MASK32(k1 - k), r + k)));
    }
}

// MR token rows × NR converted weight rows over [k0, k1): MR·NR block sums and MR·NR totals in registers. Every
// pass prefetches the next panel's codes (pf, row stride ldw) into L2, as gemm_bf16.c's tiles do (5–7 % faster on
// 5–12-row GEMMs than prefetching once, during the conversion).
DS_INLINE DS_TARGET_FP8 void fp8_tile(const uint16_t* xb, long ldx, const uint16_t* wb, const float* const* scales, int bc,
                                  float* out, long ldo, int k0, int k1, int accumulate, const int MR, const int NR,
                                  const uint8_t* pf, long ldw)
{
    __m512 total[F8_MR][F8_NR];
#pragma GCC unroll 4
    for (int t = 0; t < MR; t++)
#pragma GCC unroll 3
        for (int j = 0; j < NR; j++) total[t][j] = _mm512_setzero_ps();
    for (int kb = k0; kb < k1; kb += bc)
    {
        int ke = kb + bc < k1 ? kb + bc : k1;
        __m512 acc[F8_MR][F8_NR];
#pragma GCC unroll 4
        for (int t = 0; t < MR; t++)
#pragma GCC unroll 3
            for (int j = 0; j < NR; j++) acc[t][j] = _mm512_setzero_ps();
        int k = kb;
        for (; k + 32 <= ke; k += 32)
        {
            __m512bh xv[F8_MR];
#pragma GCC unroll 4
            for (int t = 0; t < MR; t++) xv[t] = (__m512bh)_mm512_loadu_si512(xb + t * ldx + k);
#pragma GCC unroll 3
            for (int j = 0; j < NR; j++)
            {
                __m512bh wv = (__m512bh)_mm512_load_si512(wb + j * F8_LD + (k - k0));
                _mm_prefetch((const char*)(pf + j * ldw + k), _MM_HINT_T1);
#pragma GCC unroll 4
                for (int t = 0; t < MR; t++) acc[t][j] = _mm512_dpbf16_ps(acc[t][j], xv[t], wv);
            }
        }
        if (k < ke)
        {
            // The buffer is zero past k1; x is masked like the one-row path's, so both sum the same lanes.
            __mmask32 m = DS_MASK32(ke - k);
            __m512bh xv[F8_MR];
#pragma GCC unroll 4
            for (int t = 0; t < MR; t++) xv[t] = (__m512bh)_mm512_maskz_loadu_epi16(m, xb + t * ldx + k);
#pragma GCC unroll 3
            for (int j = 0; j < NR; j++)
            {
                __m512bh wv = (__m512bh)_mm512_load_si512(wb + j * F8_LD + (k - k0));
#pragma GCC unroll 4
                for (int t = 0; t < MR; t++) acc[t][j] = _mm512_dpbf16_ps(acc[t][j], xv[t], wv);
            }
        }
#pragma GCC unroll 3
        for (int j = 0; j < NR; j++)
        {
            __m512 s = block_scale(scales[j], kb / bc);
#pragma GCC unroll 4
            for (int t = 0; t < MR; t++) total[t][j] = _mm512_fmadd_ps(acc[t][j], s, total[t][j]);
        }
    }
#pragma GCC unroll 4
    for (int t = 0; t < MR; t++)
#pragma GCC unroll 3
        for (int j = 0; j < NR; j++)
        {
            float s = hsum(total[t][j]);
            if (accumulate) out[t * ldo + j] += s;
            else out[t * ldo + j] = s;
        }
}

#define F8_TILE(MR_, NR_) fp8_tile(xt + t * ldx, ldx, buf, sr, bc, ot + t * ldo + j, ldo, k0, k1, acc, MR_, NR_, pf, ldw)

// All token rows of a block for one converted panel of nr (1..3) weight rows.
DS_INLINE DS_TARGET_FP8 void fp8_panel(const uint16_t* xt, int tm, long ldx, const uint16_t* buf, const float* const* sr, int bc,
                                   float* ot, long ldo, int j, int k0, int k1, int acc, const int NR, const uint8_t* pf, long ldw)
{
    int t = 0;
    for (; t + F8_MR <= tm; t += F8_MR) F8_TILE(F8_MR, NR);
    switch (tm - t)
    {
        case 3: F8_TILE(3, NR); break;
        case 2: F8_TILE(2, NR); break;
        case 1: F8_TILE(1, NR); break;
        default: break;
    }
}

// out[t, j] (row stride ldo floats) = bias[j] + Σ over scale blocks of s[j, b]·Σ_{k ∈ b} xb[t, k]·e4m3(w[j, k]), for t < m,
// j ∈ [j0, j1). xb: bf16 [m, k], row stride ldx, zero-padded to whole 32-element groups (ds_f32_to_bf16); w: codes
// [n, k] row-major, row stride ldw; scales: the (n / blockRows) × gridCols block scales × 2^120; blockCols a multiple
// of 32 that divides DS_KC. bias may be null.
DS_EXPORT DS_TARGET_FP8 void ds_gemm_fp8(const uint16_t* xb, int m, int k, long ldx, const uint8_t* w, long ldw,
                                     const float* scales, int gridCols, int blockRows, int blockCols,
                                     const float* bias, float* out, long ldo, int j0, int j1)
{
    const int bc = blockCols;
    if (m <= F8_ROWS_MAX_M)
    {
        if (m > 0) fp8_small(xb, m, k, ldx, w, ldw, scales, gridCols, blockRows, bc, out, ldo, j0, j1);
    }
    else
    {
        uint16_t buf[F8_NR * F8_LD] __attribute__((aligned(64)));
        for (int t0 = 0; t0 < m; t0 += DS_TC)
        {
            int tm = m - t0 < DS_TC ? m - t0 : DS_TC;
            const uint16_t* xt = xb + (long)t0 * ldx;
            float* ot = out + (long)t0 * ldo;
            for (int k0 = 0; k0 < k || k0 == 0; k0 += DS_KC)
            {
                int k1 = k - k0 < DS_KC ? k : k0 + DS_KC;
                int acc = k0 > 0;
                for (int j = j0; j < j1; j += F8_NR)
                {
                    int nr = j1 - j < F8_NR ? j1 - j : F8_NR;
                    const float* sr[F8_NR];
                    for (int r = 0; r < nr; r++) sr[r] = scales + (long)((j + r) / blockRows) * gridCols;
                    fp8_panel_to_bf16(w + (long)j * ldw, ldw, k0, k1, buf, nr);
                    const uint8_t* pf = w + (long)(j + nr) * ldw;   // never faults, even past the weight
                    switch (nr)
                    {
                        case 3: fp8_panel(xt, tm, ldx, buf, sr, bc, ot, ldo, j, k0, k1, acc, 3, pf, ldw); break;
                        case 2: fp8_panel(xt, tm, ldx, buf, sr, bc, ot, ldo, j, k0, k1, acc, 2, pf, ldw); break;
                        default: fp8_panel(xt, tm, ldx, buf, sr, bc, ot, ldo, j, k0, k1, acc, 1, pf, ldw); break;
                    }
                }
                if (k == 0) break;
            }
        }
    }
    ds_add_bias(out, ldo, m, j0, j1, bias);
}

#else

DS_EXPORT int ds_cpu_has_fp8_kernels(void) { return 0; }

DS_EXPORT void ds_gemm_fp8(const uint16_t* xb, int m, int k, long ldx, const uint8_t* w, long ldw,
                           const float* scales, int gridCols, int blockRows, int blockCols,
                           const float* bias, float* out, long ldo, int j0, int j1)
{
    (void)xb; (void)m; (void)k; (void)ldx; (void)w; (void)ldw; (void)scales; (void)gridCols; (void)blockRows;
    (void)blockCols; (void)bias; (void)out; (void)ldo; (void)j0; (void)j1;
}

#endif
