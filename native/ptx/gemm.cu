// GEMMs: block-scaled FP8 (DeepSeek-V3's recipe: activations per 1×128 tile, weights per 128×128 block, fp32
// accumulation promoted every 128 of K), its activation quantiser, and fp32-activation GEMMs over stored weights
// (F32/BF16/F16/block-FP8 decoded in the loader) for non-FP8 weights and the exact path.
//
// Correctness first: a 64×64 output tile per 256-thread block, 4×4 outputs per thread, K staged through shared
// memory 32 at a time; fp8_gemm_mma does the same tile on tensor cores (f16 mma.sync, the per-128-K promotion in
// registers). A tuned version would stage FP8 codes with cp.async/TMA, issue mma.sync (sm_89) or wgmma (sm_90a, needs
// a CUDA 12 ptxas) on e4m3 fragments, and swizzle tiles over a persistent grid as DeepGEMM does.
#include "common.cuh"

#define TILE 64
#define KSUB 32
#define QBLOCK 128

// ---------------------------------------------------------------------------------------------------------------
// Activation quantisation: x [M, K] fp32 (row stride ldx) → codes [M, K] (packed) and scales [M, ceil(K/128)],
// scale = amax/448 (1 for an all-zero tile), code = E4M3(x / scale). One 128-thread block per (row, 128-column tile):
// grid (M, ceil(K/128)).
DS_KERNEL void act_quant_fp8(const float* x, long long ldx, int M, int K, uint8_t* codes, float* scales)
{
    __shared__ float scratch[32];
    int m = blockIdx.x, kb = blockIdx.y, k = kb * QBLOCK + threadIdx.x;
    int kblocks = (K + QBLOCK - 1) / QBLOCK;
    if (m >= M) return;
    float v = k < K ? x[(long long)m * ldx + k] : 0.0f;
    float amax = block_max(fabsf(v), scratch);
    float s = amax == 0.0f ? 1.0f : __fdiv_rn(amax, 448.0f);
    if (k < K) codes[(long long)m * K + k] = (uint8_t)float_to_fp8_e4m3(__fdiv_rn(v, s));
    if (threadIdx.x == 0) scales[(long long)m * kblocks + kb] = s;
}

// ---------------------------------------------------------------------------------------------------------------
// C[m, n] = Σ_kb (Σ_{k in kb} a[m,k]·b[n,k]) · sa[m,kb] · sb[n/128,kb]: the inner sum over one 128-wide K block is
// the tensor cores' limited-precision accumulation on the GPU this models; it is promoted into the fp32 accumulator
// with the two scales once per block. Products of two E4M3 values are exact in fp32, and the inner sum runs in
// k order, exactly as the CPU twin (BlockFp8Gemm) computes it.
__device__ __forceinline__ void fp8_gemm_tile(
    const uint8_t* a, const float* sa, const uint8_t* b, const float* sb,
    float* c, long long ldc, int rows, int N, int K, int row0, int col0)
{
    __shared__ float As[TILE][KSUB + 1];
    __shared__ float Bs[TILE][KSUB + 1];
    int tx = threadIdx.x & 15, ty = threadIdx.x >> 4;
    int kblocks = (K + QBLOCK - 1) / QBLOCK;
    float acc[4][4], part[4][4];
#pragma unroll
    for (int i = 0; i < 4; i++)
#pragma unroll
        for (int j = 0; j < 4; j++) acc[i][j] = 0.0f;

    for (int kb = 0; kb < kblocks; kb++)
    {
#pragma unroll
        for (int i = 0; i < 4; i++)
#pragma unroll
            for (int j = 0; j < 4; j++) part[i][j] = 0.0f;
        int kend = min(K, (kb + 1) * QBLOCK);
        for (int k0 = kb * QBLOCK; k0 < kend; k0 += KSUB)
        {
            for (int e = threadIdx.x; e < TILE * KSUB; e += blockDim.x)
            {
                int r = e / KSUB, kk = e % KSUB, k = k0 + kk;
                int ar = row0 + r, bc = col0 + r;
                As[r][kk] = (ar < rows && k < kend) ? fp8_e4m3_to_float(a[(long long)ar * K + k]) : 0.0f;
                Bs[r][kk] = (bc < N && k < kend) ? fp8_e4m3_to_float(b[(long long)bc * K + k]) : 0.0f;
            }
            __syncthreads();
#pragma unroll 8
            for (int kk = 0; kk < KSUB; kk++)
            {
                float av[4], bv[4];
#pragma unroll
                for (int i = 0; i < 4; i++) av[i] = As[ty + 16 * i][kk];
#pragma unroll
                for (int j = 0; j < 4; j++) bv[j] = Bs[tx + 16 * j][kk];
#pragma unroll
                for (int i = 0; i < 4; i++)
#pragma unroll
                    for (int j = 0; j < 4; j++) part[i][j] = fmaf(av[i], bv[j], part[i][j]);
            }
            __syncthreads();
        }
        // Promotion: one fp32 multiply-add per output per 128 of K.
#pragma unroll
        for (int i = 0; i < 4; i++)
        {
            int r = row0 + ty + 16 * i;
            float sr = r < rows ? sa[(long long)r * kblocks + kb] : 0.0f;
#pragma unroll
            for (int j = 0; j < 4; j++)
            {
                int n = col0 + tx + 16 * j;
                float sn = n < N ? sb[(long long)(n / QBLOCK) * kblocks + kb] : 0.0f;
                acc[i][j] = fmaf(part[i][j], __fmul_rn(sr, sn), acc[i][j]);
            }
        }
    }
#pragma unroll
    for (int i = 0; i < 4; i++)
    {
        int r = row0 + ty + 16 * i;
        if (r >= rows) continue;
#pragma unroll
        for (int j = 0; j < 4; j++)
        {
            int n = col0 + tx + 16 * j;
            if (n < N) c[(long long)r * ldc + n] = acc[i][j];
        }
    }
}

// Dense: a [M, K] codes + sa [M, ceil(K/128)]; b [N, K] codes + sb [ceil(N/128), ceil(K/128)]; c [M, N] (stride ldc).
// Grid (ceil(N/64), ceil(M/64)), 256 threads.
DS_KERNEL void fp8_gemm(const uint8_t* a, const float* sa, const uint8_t* b, const float* sb, float* c, long long ldc, int M, int N, int K)
{
    fp8_gemm_tile(a, sa, b, sb, c, ldc, M, N, K, blockIdx.y * TILE, blockIdx.x * TILE);
}

// Grouped (MoE, contiguous layout): rows [offsets[g], offsets[g+1]) of a belong to group g and multiply b[g] =
// b + g·N·K (scales sb + g·ceil(N/128)·ceil(K/128)). Grid (ceil(N/64), ceil(max rows per group / 64), groups).
DS_KERNEL void fp8_gemm_grouped(const uint8_t* a, const float* sa, const uint8_t* b, const float* sb, float* c, long long ldc,
    const int* offsets, int N, int K)
{
    int g = blockIdx.z;
    int first = offsets[g], rows = offsets[g + 1] - first;
    int row0 = blockIdx.y * TILE;
    if (row0 >= rows) return;
    int kblocks = (K + QBLOCK - 1) / QBLOCK, nblocks = (N + QBLOCK - 1) / QBLOCK;
    fp8_gemm_tile(a + (long long)first * K, sa + (long long)first * kblocks,
                  b + (long long)g * N * K, sb + (long long)g * nblocks * kblocks,
                  c + (long long)first * ldc, ldc, rows, N, K, row0, blockIdx.x * TILE);
}

// ---------------------------------------------------------------------------------------------------------------
// The same contract on tensor cores (sm_80+): E4M3 codes are turned into F16 by bit shifts (value·2^-8, exact — see
// fp8x2_to_f16x2_scaled; E4M3 is exact in F16 as in BF16, and F16's bias makes the conversion a shift) while a 64×32
// slice of A and of B is staged into shared memory, ldmatrix loads the fragments, and mma.sync m16n8k16 (f16 × f16,
// fp32 accumulate) sums the exact code products of one 128-wide K block, ·2^-16, in fp32 registers; that partial sum
// is promoted into the fp32 main accumulator with sa·sb·2^16 once per block, at the same points as fp8_gemm and the
// CPU twin. Scaling by powers of two is exact here (no partial sum of E4M3 products ·2^-16 nears fp32's subnormals,
// and p·2^-16 · (s·2^16) is the same fma as p · s), so the only difference from fp8_gemm is the summation order
// inside a 128-block (the tensor core's, unspecified): within BlockFp8Gemm.ReorderingBound, not bit for bit.
//
// 8 warps over the 64×64 tile: warp w owns rows 16·(w%4) … +15 and columns 32·(w/4) … +31 (four n8 tiles).
// Staging takes 4 codes per 32-bit load where rows are 4-byte aligned (K % 4 == 0, as every DeepSeek shape), else
// bytes, and prefetches the next stage into registers during the current stage's mmas (one shared buffer, two
// barriers per 32 of K; cp.async/TMA multi-stage pipelines are the next step). Needs exactly 256 threads.
#define MMA_LDS (KSUB + 8)   // f16 per shared row: 80 bytes keeps ldmatrix rows 16-byte aligned, the 8 rows of a matrix on distinct banks

// Four consecutive codes of one row (k … k+3) as a word, zero past kend: one 32-bit load when rows are 4-byte aligned
// (then k and kend are multiples of 4 and a word never straddles kend), else four byte loads.
__device__ __forceinline__ uint32_t load_codes4(const uint8_t* row, int k, int kend, bool words)
{
    if (words) return k < kend ? *(const uint32_t*)(row + k) : 0u;
    uint32_t w = 0;
    for (int i = 0; i < 4; i++)
        if (k + i < kend) w |= (uint32_t)row[k + i] << (8 * i);
    return w;
}

// Four codes (a word from load_codes4) → four f16 (value·2^-8) at dst (8-byte aligned): codes 0,1 → the first f16x2
// (spread to bytes 0 and 2), codes 2,3 → the second.
__device__ __forceinline__ void store_f16x4(uint16_t* dst, uint32_t w)
{
    uint32_t* d = (uint32_t*)dst;
    d[0] = fp8x2_to_f16x2_scaled((w & 0xFFu) | ((w & 0xFF00u) << 8));
    d[1] = fp8x2_to_f16x2_scaled((w >> 16 & 0xFFu) | ((w >> 8) & 0xFF0000u));
}

__device__ __forceinline__ void fp8_gemm_mma_tile(
    const uint8_t* a, const float* sa, const uint8_t* b, const float* sb,
    float* c, long long ldc, int rows, int N, int K, int row0, int col0)
{
    __shared__ __align__(16) uint16_t As[TILE * MMA_LDS];
    __shared__ __align__(16) uint16_t Bs[TILE * MMA_LDS];
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    int wm = (warp & 3) * 16, wn = (warp >> 2) * 32;
    int g = lane >> 2, t = lane & 3;
    int kblocks = (K + QBLOCK - 1) / QBLOCK;
    int stages = (K + KSUB - 1) / KSUB;   // stage s stages k in [32·s, 32·s + 32) of 128-block s / 4
    bool words = (K & 3) == 0 && (((unsigned long long)a | (unsigned long long)b) & 3) == 0;
    // ldmatrix row addresses: A's four 8×8 matrices are (rows 0-7 | 8-15) × (k 0-7 | 8-15) in a-fragment order;
    // B's (n rows of Bs, k contiguous = column-major B) are n 0-7 × (k 0-7 | 8-15), then n 8-15 × the same.
    const uint16_t* a_row = &As[(wm + (lane & 7) + ((lane >> 3) & 1) * 8) * MMA_LDS + (lane >> 4) * 8];
    const uint16_t* b_row = &Bs[(wn + (lane & 7) + (lane >> 4) * 8) * MMA_LDS + ((lane >> 3) & 1) * 8];
    // Staging: the 64 rows × 32 codes of a stage are 512 words per operand, two per thread (256 threads): word
    // e = threadIdx.x + 256·i covers row e / 8, codes 4·(e % 8) … +3. The next stage's words are loaded into registers
    // before the current stage's mmas, so global latency hides behind the tensor cores.
    uint32_t ra[2], rb[2];
    const uint8_t* a_rows[2];
    const uint8_t* b_rows[2];
    int kk4[2], srow[2];
#pragma unroll
    for (int i = 0; i < 2; i++)
    {
        int e = threadIdx.x + 256 * i;
        srow[i] = e / (KSUB / 4);
        kk4[i] = (e % (KSUB / 4)) * 4;
        a_rows[i] = row0 + srow[i] < rows ? a + (long long)(row0 + srow[i]) * K : nullptr;
        b_rows[i] = col0 + srow[i] < N ? b + (long long)(col0 + srow[i]) * K : nullptr;
    }
#define DS_MMA_LOAD_STAGE(S)                                                                                    \
    {                                                                                                           \
        int k0_ = (S) * KSUB, kend_ = min(K, (k0_ / QBLOCK + 1) * QBLOCK);                                      \
        for (int i = 0; i < 2; i++)                                                                             \
        {                                                                                                       \
            ra[i] = a_rows[i] ? load_codes4(a_rows[i], k0_ + kk4[i], kend_, words) : 0u;                        \
            rb[i] = b_rows[i] ? load_codes4(b_rows[i], k0_ + kk4[i], kend_, words) : 0u;                        \
        }                                                                                                       \
    }
    float acc[4][4], part[4][4];   // [n8 tile][c-fragment element]
#pragma unroll
    for (int j = 0; j < 4; j++)
#pragma unroll
        for (int i = 0; i < 4; i++) acc[j][i] = part[j][i] = 0.0f;

    DS_MMA_LOAD_STAGE(0)
    for (int s = 0; s < stages; s++)
    {
#pragma unroll
        for (int i = 0; i < 2; i++)
        {
            store_f16x4(&As[srow[i] * MMA_LDS + kk4[i]], ra[i]);
            store_f16x4(&Bs[srow[i] * MMA_LDS + kk4[i]], rb[i]);
        }
        __syncthreads();
        if (s + 1 < stages) DS_MMA_LOAD_STAGE(s + 1)
#pragma unroll
        for (int ks = 0; ks < KSUB; ks += 16)
        {
            uint32_t af[4], bf[2][4];
            ldmatrix_x4(af, a_row + ks);
            ldmatrix_x4(bf[0], b_row + ks);
            ldmatrix_x4(bf[1], b_row + 16 * MMA_LDS + ks);
#pragma unroll
            for (int j = 0; j < 4; j++)
            {
                uint32_t bb[2] = {bf[j >> 1][(j & 1) * 2], bf[j >> 1][(j & 1) * 2 + 1]};
                mma_f16_16816(part[j], af, bb);
            }
        }
        int kb = s * KSUB / QBLOCK;
        if (s == stages - 1 || (s + 1) * KSUB % QBLOCK == 0)
        {
            // Promotion, as fp8_gemm: one fp32 multiply-add per output per 128 of K; 2^16 undoes the f16 operands'
            // 2^-8 each.
#pragma unroll
            for (int i = 0; i < 4; i++)
            {
                int r = row0 + wm + g + (i >> 1) * 8;
                float sr = r < rows ? sa[(long long)r * kblocks + kb] : 0.0f;
#pragma unroll
                for (int j = 0; j < 4; j++)
                {
                    int n = col0 + wn + j * 8 + t * 2 + (i & 1);
                    float sn = n < N ? sb[(long long)(n / QBLOCK) * kblocks + kb] : 0.0f;
                    acc[j][i] = fmaf(part[j][i], __fmul_rn(__fmul_rn(sr, sn), 65536.0f), acc[j][i]);
                    part[j][i] = 0.0f;
                }
            }
        }
        __syncthreads();
    }
#undef DS_MMA_LOAD_STAGE
#pragma unroll
    for (int i = 0; i < 4; i++)
    {
        int r = row0 + wm + g + (i >> 1) * 8;
        if (r >= rows) continue;
#pragma unroll
        for (int j = 0; j < 4; j++)
        {
            int n = col0 + wn + j * 8 + t * 2 + (i & 1);
            if (n < N) c[(long long)r * ldc + n] = acc[j][i];
        }
    }
}

// fp8_gemm's arguments, grid (ceil(N/64), ceil(M/64)) and 256 threads, on tensor cores (see fp8_gemm_mma_tile).
DS_KERNEL void fp8_gemm_mma(const uint8_t* a, const float* sa, const uint8_t* b, const float* sb, float* c, long long ldc, int M, int N, int K)
{
    fp8_gemm_mma_tile(a, sa, b, sb, c, ldc, M, N, K, blockIdx.y * TILE, blockIdx.x * TILE);
}

// ---------------------------------------------------------------------------------------------------------------
// out [M, N] (stride ldo) = x [M, K] (stride ldx) · Wᵀ (+ bias[N]); W [N, K] stored as DT, decoded in the loader.
// Grid (ceil(N/64), ceil(M/64)), 256 threads.
template <int DT>
__device__ __forceinline__ void gemm_w(const float* x, long long ldx, WeightRef w, const float* bias, float* out, long long ldo, int M, int N, int K)
{
    __shared__ float Xs[TILE][KSUB + 1];
    __shared__ float Ws[TILE][KSUB + 1];
    int tx = threadIdx.x & 15, ty = threadIdx.x >> 4;
    int row0 = blockIdx.y * TILE, col0 = blockIdx.x * TILE;
    float acc[4][4];
#pragma unroll
    for (int i = 0; i < 4; i++)
#pragma unroll
        for (int j = 0; j < 4; j++) acc[i][j] = 0.0f;
    for (int k0 = 0; k0 < K; k0 += KSUB)
    {
        for (int e = threadIdx.x; e < TILE * KSUB; e += blockDim.x)
        {
            int r = e / KSUB, kk = e % KSUB, k = k0 + kk;
            Xs[r][kk] = (row0 + r < M && k < K) ? x[(long long)(row0 + r) * ldx + k] : 0.0f;
            Ws[r][kk] = (col0 + r < N && k < K) ? load_weight<DT>(w, col0 + r, k) : 0.0f;
        }
        __syncthreads();
#pragma unroll 8
        for (int kk = 0; kk < KSUB; kk++)
        {
            float xv[4], wv[4];
#pragma unroll
            for (int i = 0; i < 4; i++) xv[i] = Xs[ty + 16 * i][kk];
#pragma unroll
            for (int j = 0; j < 4; j++) wv[j] = Ws[tx + 16 * j][kk];
#pragma unroll
            for (int i = 0; i < 4; i++)
#pragma unroll
                for (int j = 0; j < 4; j++) acc[i][j] = fmaf(xv[i], wv[j], acc[i][j]);
        }
        __syncthreads();
    }
#pragma unroll
    for (int i = 0; i < 4; i++)
    {
        int r = row0 + ty + 16 * i;
        if (r >= M) continue;
#pragma unroll
        for (int j = 0; j < 4; j++)
        {
            int n = col0 + tx + 16 * j;
            if (n < N) out[(long long)r * ldo + n] = acc[i][j] + (bias ? bias[n] : 0.0f);
        }
    }
}

#define DS_GEMM_W(SUFFIX, DT)                                                                                          \
    DS_KERNEL void gemm_w_##SUFFIX(const float* x, long long ldx, const void* w, const float* w_scale, int w_cols,     \
        int w_scale_cols, int w_block_rows, int w_block_cols, const float* bias, float* out, long long ldo, int M, int N) \
    {                                                                                                                  \
        WeightRef ref = {w, w_scale, w_cols, w_scale_cols, w_block_rows, w_block_cols};                                \
        gemm_w<DT>(x, ldx, ref, bias, out, ldo, M, N, w_cols);                                                         \
    }

DS_GEMM_W(f32, DS_W_F32)
DS_GEMM_W(bf16, DS_W_BF16)
DS_GEMM_W(f16, DS_W_F16)
DS_GEMM_W(fp8, DS_W_FP8)
